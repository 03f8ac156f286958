// Vite: `npm run dev -w @parley/web` serves the app with hot reload on :5173 and proxies the API
// (HTTP and the WebSocket) to a Parley server, by default http://localhost:8080 (PARLEY_URL).
import { defineConfig } from 'vite';

const target = process.env.PARLEY_URL ?? 'http://localhost:8080';

export default defineConfig({
  server: {
    proxy: {
      '/v1': { target, ws: true, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
});

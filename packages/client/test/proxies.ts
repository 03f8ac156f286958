/**
 * Misbehaving networks for the SDK tests: an HTTP proxy that refuses WebSocket upgrades and/or
 * buffers event streams (as some corporate proxies do), and a TCP proxy that cuts every connection
 * at random intervals (a flapping mobile link).
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface HttpProxyOptions {
  /** Answer every WebSocket upgrade with 403. */
  refuseUpgrade?: boolean;
  /** Hold `text/event-stream` responses until they end (so the client sees nothing of a live stream). */
  bufferEventStream?: boolean;
}

export interface Proxy {
  url: string;
  port: number;
  /** Counters for assertions. */
  stats: { upgradesRefused: number; streamsBuffered: number; cuts: number };
  close(): Promise<void>;
}

function listen(server: Server | TcpServer): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

function track(server: Server | TcpServer): Set<Duplex> {
  const sockets = new Set<Duplex>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

export async function httpProxy(target: string, opts: HttpProxyOptions): Promise<Proxy> {
  const t = new URL(target);
  const stats = { upgradesRefused: 0, streamsBuffered: 0, cuts: 0 };
  const server = createServer((req, res) => {
    const up = request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, connection: 'close' } },
      (ur: IncomingMessage) => {
        const type = String(ur.headers['content-type'] ?? '');
        if (opts.bufferEventStream && type.includes('text/event-stream')) {
          stats.streamsBuffered++;
          const chunks: Buffer[] = [];
          ur.on('data', (c: Buffer) => chunks.push(c));
          ur.on('end', () => {
            res.writeHead(ur.statusCode ?? 502, ur.headers);
            res.end(Buffer.concat(chunks));
          });
          return;
        }
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (opts.refuseUpgrade) {
      stats.upgradesRefused++;
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = connect(Number(t.port), t.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
  });
  const sockets = track(server);
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface FlakyOptions {
  /** Each connection is cut after a random lifetime in [minMs, maxMs]. */
  minMs: number;
  maxMs: number;
}

/** A TCP proxy to `targetPort` that cuts each of its connections after a random lifetime. */
export async function flakyTcpProxy(targetPort: number, opts: FlakyOptions): Promise<Proxy> {
  const stats = { upgradesRefused: 0, streamsBuffered: 0, cuts: 0 };
  const pairs = new Map<Socket, { upstream: Socket; timer: ReturnType<typeof setTimeout> }>();
  const server = createTcpServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const drop = () => {
      const p = pairs.get(client);
      if (p) clearTimeout(p.timer);
      pairs.delete(client);
      client.destroy();
      upstream.destroy();
    };
    const timer = setTimeout(
      () => {
        stats.cuts++;
        // An abrupt RST, like a link that vanished, not a polite FIN.
        client.resetAndDestroy();
        upstream.resetAndDestroy();
        drop();
      },
      opts.minMs + Math.random() * (opts.maxMs - opts.minMs),
    );
    pairs.set(client, { upstream, timer });
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    close: () =>
      new Promise((resolve) => {
        for (const [client, p] of pairs) {
          clearTimeout(p.timer);
          client.destroy();
          p.upstream.destroy();
        }
        pairs.clear();
        server.close(() => resolve());
      }),
  };
}

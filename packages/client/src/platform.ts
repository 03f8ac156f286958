/**
 * The runtime pieces the SDK needs, found once: the global WebSocket (browsers, Node 22+) or the
 * `ws` package (Node 20), loaded only when a WebSocket is first needed; the global fetch; the global
 * EventSource when present (browsers), else null so that SSE is read with fetch.
 */
import type { EventSourceConstructor, Platform, WebSocketConstructor } from './transport/Transport.ts';

let wsModule: Promise<WebSocketConstructor> | null = null;

function findWebSocket(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return Promise.resolve(global);
  wsModule ??= import('ws').then((m) => m.WebSocket as unknown as WebSocketConstructor);
  return wsModule;
}

export interface PlatformOverrides {
  fetch?: typeof fetch;
  WebSocket?: WebSocketConstructor;
  /** null forces the fetch-based SSE reader even where EventSource exists. */
  EventSource?: EventSourceConstructor | null;
}

export function resolvePlatform(o: PlatformOverrides = {}): Platform {
  const fetchFn = o.fetch ?? globalThis.fetch?.bind(globalThis);
  if (!fetchFn) throw new TypeError('Parley client: no fetch in this environment; pass options.fetch');
  const WS = o.WebSocket;
  return {
    fetch: fetchFn,
    WebSocket: WS ? () => Promise.resolve(WS) : findWebSocket,
    EventSource: o.EventSource !== undefined ? o.EventSource : ((globalThis as { EventSource?: EventSourceConstructor }).EventSource ?? null),
  };
}

/** The WebSocket Link for the test client: a real `ws` client against a real server. */
import WebSocket from 'ws';
import type { Command, ServerFrame } from '@parley/protocol';
import type { Connector, Link } from './clients.ts';

export const connectWs: Connector = (url, token, cursor) =>
  new Promise((resolve, reject) => {
    const q = new URLSearchParams({ token });
    if (cursor !== undefined) q.set('cursor', String(cursor));
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws?${q}`);
    const frameHandlers: ((f: ServerFrame) => void)[] = [];
    const closeHandlers: ((code: number, reason: string) => void)[] = [];
    const pending: ServerFrame[] = [];
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as ServerFrame;
      if (frameHandlers.length === 0) pending.push(f);
      for (const h of frameHandlers) h(f);
    });
    ws.on('close', (code, reason) => {
      for (const h of closeHandlers) h(code, reason.toString());
    });
    ws.on('error', reject);
    ws.on('open', () => {
      const link: Link = {
        kind: 'websocket',
        send(cmd: Command | string) {
          if (ws.readyState === WebSocket.OPEN) ws.send(typeof cmd === 'string' ? cmd : JSON.stringify(cmd));
        },
        close() {
          ws.close();
        },
        onFrame(h) {
          frameHandlers.push(h);
          for (const f of pending.splice(0)) h(f);
        },
        onClose(h) {
          closeHandlers.push(h);
        },
      };
      resolve(link);
    });
  });

/** The raw socket, for tests that need to misbehave below the protocol (huge frames, floods). */
export function rawWs(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws?token=${encodeURIComponent(token)}`);
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}

/**
 * The raw socket once its first frame (the welcome) arrived. The listener is attached before the
 * socket opens: the welcome may come in the same read as the upgrade response, and a listener
 * added after `open` would miss it.
 */
export function rawWsWelcomed(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws?token=${encodeURIComponent(token)}`);
    ws.once('message', () => resolve(ws));
    ws.on('error', reject);
  });
}

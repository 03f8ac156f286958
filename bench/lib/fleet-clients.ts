/**
 * The smallest honest clients for the density and storm benches, one WebSocket each, so a load
 * process can hold ~15k of them: Parley (token + cursor in the URL, ready on `welcome`), the bare ws
 * relay (ready on open), and Socket.IO spoken at the Engine.IO v4 protocol level (ready when the
 * namespace connect `40` is answered; pings `2` answered with `3`). All three answer the server's
 * heartbeats: ws control-frame pings are answered by the ws library, Engine.IO pings here.
 */
import WebSocket from 'ws';

export type FleetTarget = 'parley' | 'ws' | 'socketio';

export interface OpenSpec {
  target: FleetTarget;
  /** http://host:port of the server. */
  url: string;
  /** Parley: access token; peers: a user name. */
  who: string;
  /** Parley: resume after this cursor (omit for the device's last ack). */
  cursor?: number;
  localAddress?: string;
  timeoutMs: number;
}

export interface Welcome {
  head: number;
  from: number;
}

/** An open connection: `ws` plus, for Parley, what the welcome said. */
export interface Opened {
  ws: WebSocket;
  welcome: Welcome | null;
}

function address(spec: OpenSpec): string {
  const base = spec.url.replace(/^http/, 'ws');
  if (spec.target === 'parley') return `${base}/v1/ws?token=${spec.who}${spec.cursor !== undefined ? `&cursor=${spec.cursor}` : ''}`;
  if (spec.target === 'ws') return `${base}/?user=${spec.who}`;
  return `${base}/socket.io/?EIO=4&transport=websocket&user=${spec.who}`;
}

/**
 * Opens one connection and resolves once it is usable. For Parley, frames after the welcome go to
 * `onFrame` (set it before the next turn of the event loop: the resolve happens on the welcome frame).
 */
export function open(spec: OpenSpec, onFrame?: (ws: WebSocket, text: string) => void): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(address(spec), { perMessageDeflate: false, ...(spec.localAddress ? { localAddress: spec.localAddress } : {}) });
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    const ok = (welcome: Welcome | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ws, welcome });
    };
    const timer = setTimeout(() => fail(new Error('timeout')), spec.timeoutMs);
    ws.on('error', fail);
    ws.on('close', (code) => fail(new Error(`closed ${code}`)));
    if (spec.target === 'ws') {
      ws.once('open', () => ok(null));
      return;
    }
    ws.on('message', (data) => {
      const text = data.toString();
      if (spec.target === 'socketio') {
        if (text === '2') ws.send('3');
        else if (text.startsWith('0{')) ws.send('40');
        else if (text.startsWith('40')) ok(null);
        return;
      }
      if (!done) {
        if (text.startsWith('{"t":"welcome"')) {
          const w = JSON.parse(text) as Welcome;
          ok({ head: w.head, from: w.from });
        } else if (text.startsWith('{"t":"err"') && !text.includes('BAD_CURSOR')) fail(new Error(text.slice(0, 200)));
        return;
      }
      onFrame?.(ws, text);
    });
  });
}

/**
 * Opens many with at most `inflight` handshakes at a time; `each` gets every success in order of
 * completion. Resolves with how many failed (and the first few reasons).
 */
export async function openMany<T>(
  items: readonly T[],
  inflight: number,
  start: (item: T) => Promise<void>,
): Promise<{ failed: number; reasons: string[] }> {
  let next = 0;
  let failed = 0;
  const reasons: string[] = [];
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await start(item);
      } catch (err) {
        failed += 1;
        if (reasons.length < 5) reasons.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inflight, items.length) }, lane));
  return { failed, reasons };
}

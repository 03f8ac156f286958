/**
 * Parley over SSE and long polling for the load generator: commands (sends) go over
 * `POST /v1/cmd`, events arrive on an event stream or by polling with the cursor (which also acks).
 */
import { Agent, request } from 'node:http';
import type { Endpoint } from './drivers.ts';
import { acker } from './acker.ts';

function post(agent: Agent, url: URL, token: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The sending half, shared by both: one POST per send, several in flight on a keep-alive pool. */
function sender(base: string, token: string, conv: string): Endpoint {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const url = new URL('/v1/cmd', base);
  const acks: ((ok: boolean) => void)[] = [];
  return {
    send: (id, body) => {
      post(agent, url, token, JSON.stringify({ t: 'send', id, conv, cmid: `h${process.pid}-${id}`, body })).then(
        (text) => acks.forEach((a) => a((JSON.parse(text) as { t: string }).t === 'res')),
        () => acks.forEach((a) => a(false)),
      );
    },
    onAck: (cb) => acks.push(cb),
    onMessage: () => {},
    close: () => agent.destroy(),
  };
}

type Frame = { t: string; c?: number; e?: { k: string; msg?: { body: string } } };

/** Receiving over SSE; acks cumulatively over POST on the SDK's schedule, like a real device. */
function sseReceiver(base: string, token: string): Promise<Endpoint> {
  const msgs: ((body: string) => void)[] = [];
  const agent = new Agent({ keepAlive: true });
  const ackAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  let last = 0;
  const ack = acker(() => void post(ackAgent, new URL('/v1/cmd', base), token, JSON.stringify({ t: 'ack', cursor: last })).catch(() => {}));
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/v1/sse?token=${token}`, base), { agent }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue;
          const f = JSON.parse(data.slice(6)) as Frame;
          if (f.t === 'welcome') resolve(endpoint);
          if (f.t !== 'ev' || f.c === undefined) continue;
          last = f.c;
          if (f.e?.k === 'message' && f.e.msg) for (const m of msgs) m(f.e.msg.body);
          ack.event();
        }
      });
    });
    req.on('error', reject);
    req.end();
    const endpoint: Endpoint = {
      send: () => {},
      onAck: () => {},
      onMessage: (cb) => msgs.push(cb),
      close: () => {
        ack.stop();
        req.destroy();
        agent.destroy();
        ackAgent.destroy();
      },
    };
  });
}

/** Receiving by long polling: each poll carries the cursor of the last event processed. */
async function pollReceiver(base: string, token: string): Promise<Endpoint> {
  const msgs: ((body: string) => void)[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let cursor = 0;
  let open = true;
  const poll = () =>
    new Promise<Frame[]>((resolve, reject) => {
      const req = request(new URL(`/v1/poll?token=${token}&cursor=${cursor}&wait=5000`, base), { agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(((JSON.parse(text) as { frames?: Frame[] }).frames ?? []) as Frame[]));
      });
      req.on('error', reject);
      req.end();
    });
  const first = await poll();
  // Start at the head: what an earlier step left unacknowledged is not this step's delivery.
  const welcome = first.find((f) => f.t === 'welcome') as { head?: number } | undefined;
  cursor = welcome?.head ?? 0;
  void (async () => {
    while (open) {
      let frames: Frame[];
      try {
        frames = await poll();
      } catch {
        if (!open) return;
        continue;
      }
      for (const f of frames) {
        if (f.t !== 'ev' || f.c === undefined || f.c <= cursor) continue;
        cursor = f.c;
        if (f.e?.k === 'message' && f.e.msg) for (const m of msgs) m(f.e.msg.body);
      }
    }
  })();
  return {
    send: () => {},
    onAck: () => {},
    onMessage: (cb) => msgs.push(cb),
    close: () => {
      open = false;
      agent.destroy();
    },
  };
}

export async function parleyHttp(kind: 'sse' | 'longpoll', base: string, token: string, to: string, role: 'sender' | 'receiver'): Promise<Endpoint> {
  if (role === 'sender') return sender(base, token, to);
  return kind === 'sse' ? sseReceiver(base, token) : pollReceiver(base, token);
}

/**
 * One load process of a fleet (forked by fleet.ts): holds up to ~15k client connections from one
 * source address and obeys its parent over IPC. Commands (`FleetCommand`): open a share of clients,
 * drop them all abruptly (the client side vanishes: sockets destroyed, no close handshake), resume
 * them all at once (Parley: from the last cursor each client received), report, close.
 *
 * With `track`, each Parley client records its stream: the last cursor, every message (conv, seq)
 * it got, duplicates and cursor gaps; it acks cumulatively like a device (one sweep every 200 ms,
 * not a timer per client).
 */
import type WebSocket from 'ws';
import { open, openMany, type FleetTarget } from './fleet-clients.ts';

export interface ClientSpec {
  /** Parley: access token; peers: user name. */
  who: string;
}

export type FleetCommand =
  | { t: 'open'; target: FleetTarget; url: string; clients: ClientSpec[]; localAddress: string; inflight: number; timeoutMs: number; track: boolean }
  | { t: 'drop' }
  | { t: 'resume'; inflight: number; timeoutMs: number }
  | { t: 'report'; expected: number }
  | { t: 'live' }
  | { t: 'close' };

export type FleetReply =
  | { t: 'opened'; ok: number; failed: number; reasons: string[]; ms: number }
  | { t: 'dropped' }
  | { t: 'resumed'; ok: number; failed: number; reasons: string[]; ms: number; resumeMs: number[] }
  | { t: 'report'; clients: number; complete: number; lost: number; duplicates: number; gaps: number; messages: number }
  | { t: 'live'; open: number; closes: Record<string, number> }
  | { t: 'closed' };

interface Client {
  spec: ClientSpec;
  ws: WebSocket | null;
  last: number;
  /** The log head the latest welcome announced: resumed once `last` reaches it. */
  head: number;
  acked: number;
  seqs: Set<string>;
  duplicates: number;
  gaps: number;
  resumedAt: number;
}

const clients: Client[] = [];
let job: Extract<FleetCommand, { t: 'open' }> | null = null;
let resumeStart = 0;
let onResumed: (() => void) | null = null;
let waiting = 0;
/** Closes we did not ask for (the server's, or the network's), by close code: who cut what, and how. */
const closes: Record<string, number> = {};
/** Set while we terminate our own connections (drop, close), whose closes are not counted. */
let closingOurselves = false;

const reply = (m: FleetReply) => process.send?.(m);

function onFrame(c: Client, text: string): void {
  if (!text.startsWith('{"t":"ev"')) return;
  const f = JSON.parse(text) as { c: number; e: { k: string; msg?: { conv: string; seq: number } } };
  if (f.c <= c.last) {
    c.duplicates += 1;
    return;
  }
  if (f.c !== c.last + 1) c.gaps += 1;
  c.last = f.c;
  if (f.e.k === 'message' && f.e.msg) {
    const key = `${f.e.msg.conv}/${f.e.msg.seq}`;
    if (c.seqs.has(key)) c.duplicates += 1;
    else c.seqs.add(key);
  }
  checkResumed(c);
}

function checkResumed(c: Client): void {
  if (c.resumedAt === 0 && resumeStart > 0 && c.ws && c.last >= c.head) {
    c.resumedAt = performance.now();
    waiting -= 1;
    if (waiting === 0) onResumed?.();
  }
}

async function connect(c: Client, cursor: number | undefined, timeoutMs: number): Promise<void> {
  const j = job!;
  const track = j.track && j.target === 'parley';
  const { ws, welcome } = await open(
    { target: j.target, url: j.url, who: c.spec.who, localAddress: j.localAddress, timeoutMs, ...(cursor !== undefined ? { cursor } : {}) },
    track ? (_ws, text) => onFrame(c, text) : undefined,
  );
  c.ws = ws;
  ws.on('close', (code: number) => {
    if (!closingOurselves) closes[code] = (closes[code] ?? 0) + 1;
  });
  if (welcome) {
    c.head = welcome.head;
    // A fresh start (no cursor) begins at the device's last ack (events of the same chunk as the
    // welcome may already have moved `last` past it).
    if (cursor === undefined) c.last = Math.max(c.last, welcome.from);
  }
  checkResumed(c);
}

// Cumulative acks, as a device sends them: one sweep for all clients.
setInterval(() => {
  if (!job?.track) return;
  for (const c of clients) {
    if (c.ws && c.last > c.acked && c.ws.readyState === 1) {
      c.ws.send(`{"t":"ack","cursor":${c.last}}`);
      c.acked = c.last;
    }
  }
}, 200).unref();

process.on('message', (cmd: FleetCommand) => {
  void handle(cmd).catch((err: unknown) => {
    process.stderr.write(`fleet agent: ${String(err)}\n`);
    process.exit(1);
  });
});

async function handle(cmd: FleetCommand): Promise<void> {
  switch (cmd.t) {
    case 'open': {
      job = cmd;
      const t0 = performance.now();
      const fresh = cmd.clients.map((spec) => ({ spec, ws: null, last: 0, head: 0, acked: 0, seqs: new Set<string>(), duplicates: 0, gaps: 0, resumedAt: 0 }) satisfies Client);
      clients.push(...fresh);
      const r = await openMany(fresh, cmd.inflight, (c) => connect(c, undefined, cmd.timeoutMs));
      reply({ t: 'opened', ok: fresh.length - r.failed, failed: r.failed, reasons: r.reasons, ms: performance.now() - t0 });
      return;
    }
    case 'drop': {
      closingOurselves = true;
      for (const c of clients) {
        c.ws?.terminate();
        c.ws = null;
        c.acked = 0;
      }
      // terminate() emits 'close' on a later tick: count nothing until then.
      await new Promise((r) => setTimeout(r, 50));
      closingOurselves = false;
      reply({ t: 'dropped' });
      return;
    }
    case 'resume': {
      resumeStart = performance.now();
      waiting = clients.length;
      for (const c of clients) c.resumedAt = 0;
      const all = new Promise<void>((resolve) => (onResumed = resolve));
      const r = await openMany(clients, cmd.inflight, (c) => connect(c, job!.target === 'parley' ? c.last : undefined, cmd.timeoutMs));
      waiting -= r.failed;
      if (waiting > 0) await Promise.race([all, new Promise((res) => setTimeout(res, cmd.timeoutMs))]);
      const resumeMs = clients.filter((c) => c.resumedAt > 0).map((c) => c.resumedAt - resumeStart);
      reply({ t: 'resumed', ok: resumeMs.length, failed: clients.length - resumeMs.length, reasons: r.reasons, ms: performance.now() - resumeStart, resumeMs });
      return;
    }
    case 'report': {
      let lost = 0;
      let duplicates = 0;
      let gaps = 0;
      let messages = 0;
      let complete = 0;
      for (const c of clients) {
        lost += Math.max(0, cmd.expected - c.seqs.size);
        duplicates += c.duplicates;
        gaps += c.gaps;
        messages += c.seqs.size;
        if (c.seqs.size >= cmd.expected) complete += 1;
      }
      reply({ t: 'report', clients: clients.length, complete, lost, duplicates, gaps, messages });
      return;
    }
    case 'live': {
      // Connections still open now (the server may have closed some, e.g. missed heartbeats).
      reply({ t: 'live', open: clients.filter((c) => c.ws?.readyState === 1).length, closes });
      return;
    }
    case 'close': {
      closingOurselves = true;
      for (const c of clients) c.ws?.terminate();
      reply({ t: 'closed' });
      setTimeout(() => process.exit(0), 50);
      return;
    }
  }
}

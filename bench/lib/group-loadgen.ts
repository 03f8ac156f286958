/**
 * A group load-generator process, forked by bench/group.ts with `serialization: 'advanced'`.
 *
 * Protocol over IPC:
 *   parent → {kind: 'setup', ...GroupSetup}   connect every member (bounded concurrency)
 *   child  → {kind: 'ready', connected}       all members connected
 *   parent → {kind: 'go', startAt}            (epoch ms, performance.timeOrigin + now())
 *   child  → {kind: 'result', ...GroupLoadResult} after startAt + duration + grace
 *   child  → {kind: 'error', error}           at any point; the parent aborts the run
 *
 * Messages: the k-th message (k = 0 .. messages-1) is sent at startAt + k·interval by sender
 * `senders[k % senders.length]` (only the process holding that sender sends it). Its body is
 * "<send time> <k> <sender index> <padding>"; every member records the latency of each message it
 * receives from another member; the parent derives the last-member latency from per-process maxima.
 */
import type { Target } from './drivers.ts';
import { joinGroup, type Member } from './group-drivers.ts';

export interface GroupSetup {
  target: Target;
  url: string;
  group: string;
  members: Member[];
  /** Indexes (into the whole group) of the rotating senders, in rotation order. */
  senders: number[];
  messages: number;
  intervalMs: number;
  graceMs: number;
  /** Messages k < warmup are sent and counted per message, but their deliveries' latencies are not kept. */
  warmup: number;
  /** Simultaneous connection attempts. */
  concurrency: number;
}

export interface GroupLoadResult {
  /** Sends this process made, acknowledged and failed. */
  sent: number;
  acked: number;
  errors: number;
  /** Per message k: deliveries seen here and the largest latency among them (NaN: none). */
  perMsgCount: Uint32Array;
  perMsgMax: Float64Array;
  /** Every delivery's latency (ms). */
  latencies: Float64Array;
  /** CPU time (user + system) this process used from 'go' to the end, in ms. */
  cpuMs: number;
}

const now = () => performance.timeOrigin + performance.now();

type Msg = ({ kind: 'setup' } & GroupSetup) | { kind: 'go'; startAt: number };

let setup: GroupSetup | null = null;
const ends: { member: Member; end: Awaited<ReturnType<typeof joinGroup>> }[] = [];

async function connectAll(s: GroupSetup): Promise<void> {
  const senders = new Set(s.senders);
  let next = 0;
  const worker = async () => {
    while (next < s.members.length) {
      const member = s.members[next++]!;
      ends.push({ member, end: await joinGroup(s.target, s.url, member, s.group, senders.has(member.index)) });
    }
  };
  await Promise.all(Array.from({ length: s.concurrency }, worker));
}

async function go(s: GroupSetup, startAt: number): Promise<GroupLoadResult> {
  const cpu0 = process.cpuUsage();
  const perMsgCount = new Uint32Array(s.messages);
  const perMsgMax = new Float64Array(s.messages).fill(NaN);
  let lat = new Float64Array(1 << 16);
  let n = 0;
  const res = { sent: 0, acked: 0, errors: 0 };
  const bySender = new Map<number, (typeof ends)[number]['end']>();
  for (const { member, end } of ends) {
    const own = member.index;
    if (s.senders.includes(own)) bySender.set(own, end);
    end.onAck((ok) => (ok ? (res.acked += 1) : (res.errors += 1)));
    end.onMessage((body) => {
      const t = now();
      const a = body.indexOf(' ');
      const b = body.indexOf(' ', a + 1);
      const c = body.indexOf(' ', b + 1);
      const from = Number(body.slice(b + 1, c));
      if (from === own) return;
      const k = Number(body.slice(a + 1, b));
      const l = t - Number(body.slice(0, a));
      if (!(k >= 0 && k < s.messages)) return;
      perMsgCount[k]! += 1;
      if (!(perMsgMax[k]! >= l)) perMsgMax[k] = l;
      if (k < s.warmup) return;
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[n++] = l;
    });
  }
  // Pacing on an absolute schedule: a late tick sends at once, it never skips a message.
  let k = 0;
  const tick = () => {
    while (k < s.messages && now() >= startAt + k * s.intervalMs) {
      const from = s.senders[k % s.senders.length]!;
      const end = bySender.get(from);
      if (end) {
        end.send(k + 1, `${now()} ${k} ${from} payload-of-a-typical-group-chat-message`);
        res.sent += 1;
      }
      k += 1;
    }
    if (k < s.messages) setTimeout(tick, Math.max(0, startAt + k * s.intervalMs - now()));
  };
  if (bySender.size > 0) setTimeout(tick, Math.max(0, startAt - now()));
  const endAt = startAt + s.messages * s.intervalMs + s.graceMs;
  await new Promise((r) => setTimeout(r, Math.max(0, endAt - now())));
  for (const { end } of ends) end.close();
  const cpu = process.cpuUsage(cpu0);
  return { ...res, perMsgCount, perMsgMax, latencies: lat.slice(0, n), cpuMs: (cpu.user + cpu.system) / 1000 };
}

function fail(err: unknown): void {
  process.send?.({ kind: 'error', error: String((err as Error)?.stack ?? err) }, () => process.exit(1));
}

process.on('message', (m: Msg) => {
  if (m.kind === 'setup') {
    setup = m;
    connectAll(m).then(() => process.send?.({ kind: 'ready', connected: ends.length }), fail);
  } else if (m.kind === 'go' && setup) {
    go(setup, m.startAt).then((r) => process.send?.({ kind: 'result', ...r }, () => process.exit(0)), fail);
  }
});

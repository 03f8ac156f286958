/**
 * A fleet of load processes (fleet-agent.ts), each holding at most `perProcess` connections from its
 * own 127.0.0.x source address: one source address gives ~28k ephemeral ports and one process may
 * hold at most ~20k open files, so 100k clients need several of both.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { FleetTarget } from './fleet-clients.ts';
import type { ClientSpec, FleetCommand, FleetReply } from './fleet-agent.ts';

export interface Agent {
  child: ChildProcess;
  localAddress: string;
  clients: number;
}

function ask<R extends FleetReply['t']>(a: Agent, cmd: FleetCommand, expect: R): Promise<Extract<FleetReply, { t: R }>> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: FleetReply) => {
      if (m.t !== expect) return;
      a.child.off('message', onMsg);
      a.child.off('exit', onExit);
      resolve(m as Extract<FleetReply, { t: R }>);
    };
    const onExit = (code: number | null) => reject(new Error(`fleet agent ${a.localAddress} exited with ${code}`));
    a.child.on('message', onMsg);
    a.child.once('exit', onExit);
    a.child.send(cmd);
  });
}

export class Fleet {
  readonly agents: Agent[] = [];
  private nextAddress: number;

  constructor(
    private readonly perProcess = 15_000,
    firstAddress = 10,
  ) {
    this.nextAddress = firstAddress;
  }

  /**
   * Opens `clients` more connections on new agents (never more than perProcess each); resolves when
   * every agent has answered, with the sums.
   */
  async open(target: FleetTarget, url: string, clients: ClientSpec[], o: { inflight: number; timeoutMs: number; track: boolean }): Promise<{ ok: number; failed: number; reasons: string[]; ms: number }> {
    const n = Math.ceil(clients.length / this.perProcess);
    const share = Math.ceil(clients.length / n);
    const fresh: Agent[] = [];
    for (let i = 0; i < n; i++) {
      // Big heaps for the agents' bookkeeping; the ws client itself is small.
      const child = fork(new URL('./fleet-agent.ts', import.meta.url), { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      fresh.push({ child, localAddress: `127.0.0.${this.nextAddress++}`, clients: Math.min(share, clients.length - i * share) });
    }
    this.agents.push(...fresh);
    const t0 = performance.now();
    const replies = await Promise.all(
      fresh.map((a, i) => ask(a, { t: 'open', target, url, clients: clients.slice(i * share, (i + 1) * share), localAddress: a.localAddress, inflight: o.inflight, timeoutMs: o.timeoutMs, track: o.track }, 'opened')),
    );
    return {
      ok: replies.reduce((s, r) => s + r.ok, 0),
      failed: replies.reduce((s, r) => s + r.failed, 0),
      reasons: replies.flatMap((r) => r.reasons).slice(0, 5),
      ms: performance.now() - t0,
    };
  }

  async drop(): Promise<void> {
    await Promise.all(this.agents.map((a) => ask(a, { t: 'drop' }, 'dropped')));
  }

  /** Every agent reconnects all its clients at once; `ms` is until the last client resumed. */
  async resume(o: { inflight: number; timeoutMs: number }): Promise<{ ok: number; failed: number; reasons: string[]; ms: number; resumeMs: number[] }> {
    const t0 = performance.now();
    const replies = await Promise.all(this.agents.map((a) => ask(a, { t: 'resume', inflight: o.inflight, timeoutMs: o.timeoutMs }, 'resumed')));
    return {
      ok: replies.reduce((s, r) => s + r.ok, 0),
      failed: replies.reduce((s, r) => s + r.failed, 0),
      reasons: replies.flatMap((r) => r.reasons).slice(0, 5),
      ms: performance.now() - t0,
      resumeMs: replies.flatMap((r) => r.resumeMs),
    };
  }

  async report(expected: number): Promise<{ clients: number; complete: number; lost: number; duplicates: number; gaps: number; messages: number }> {
    const rs = await Promise.all(this.agents.map((a) => ask(a, { t: 'report', expected }, 'report')));
    const sum = (k: 'clients' | 'complete' | 'lost' | 'duplicates' | 'gaps' | 'messages') => rs.reduce((s, r) => s + r[k], 0);
    return { clients: sum('clients'), complete: sum('complete'), lost: sum('lost'), duplicates: sum('duplicates'), gaps: sum('gaps'), messages: sum('messages') };
  }

  /** Closes the fleet did not ask for so far, by close code (filled by `live`). */
  closes: Record<string, number> = {};

  /** How many of the fleet's connections are open right now (and, in `closes`, how the others ended). */
  async live(): Promise<number> {
    const rs = await Promise.all(this.agents.map((a) => ask(a, { t: 'live' }, 'live')));
    const closes: Record<string, number> = {};
    for (const r of rs) for (const [code, n] of Object.entries(r.closes)) closes[code] = (closes[code] ?? 0) + n;
    this.closes = closes;
    return rs.reduce((s, r) => s + r.open, 0);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.agents.map((a) => ask(a, { t: 'close' }, 'closed')));
    for (const a of this.agents) if (a.child.exitCode === null) a.child.kill('SIGKILL');
    this.agents.length = 0;
  }
}

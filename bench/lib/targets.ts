/**
 * Starting each benchmark target as its own process — Parley (embedded SQLite, or on Redis +
 * PostgreSQL), the Socket.IO relay and the bare ws relay — and preparing user pairs for it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Pair, Target } from './drivers.ts';
import { pgBacking } from './pg-target.ts';
import { command, registerUser, startParley } from './server.ts';

export interface RunningTarget {
  target: Target;
  url: string;
  pid: number;
  makePairs(n: number): Promise<Pair[]>;
  stop(): Promise<void>;
}

export function startPeer(file: string, port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(`../peers/${file}`, import.meta.url), [String(port)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Which thread commits SQLite writes, for the parley-worker / parley-inline variants. */
export function storeMode(target: Target): Record<string, string> {
  if (target === 'parley-worker') return { PARLEY_STORE_WORKER: '1' };
  if (target === 'parley-inline') return { PARLEY_STORE_WORKER: '0' };
  return {};
}

export async function startTarget(target: Target, port: number, env: Record<string, string> = {}): Promise<RunningTarget> {
  if (target.startsWith('parley')) {
    const backing = target === 'parley-pg' ? await pgBacking() : null;
    const server = await startParley(port, { ...storeMode(target), ...backing?.env, ...env }).catch(async (err: unknown) => {
      await backing?.drop();
      throw err;
    });
    return {
      target,
      url: server.url,
      pid: server.child.pid ?? 0,
      async makePairs(n) {
        const tag = Math.random().toString(36).slice(2, 7);
        const pairs: Pair[] = [];
        for (let i = 0; i < n; i++) {
          const a = await registerUser(server.url, `a${i}_${tag}`);
          const b = await registerUser(server.url, `b${i}_${tag}`);
          const conv = await command<{ conversation: { id: string } }>(server.url, a.access, { t: 'conv.direct', user: b.user });
          pairs.push({ sender: a.access, receiver: b.access, to: conv.conversation.id });
        }
        await backing?.analyze();
        return pairs;
      },
      async stop() {
        await server.stop();
        await backing?.drop();
      },
    };
  }
  const child = await startPeer(target === 'ws' ? 'ws-relay.ts' : 'socketio-relay.ts', port);
  return {
    target,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    async makePairs(n) {
      return Array.from({ length: n }, (_, i) => ({ sender: `a${i}`, receiver: `b${i}`, to: `b${i}` }));
    },
    stop: () => stopChild(child),
  };
}

/** CPU time (user + system) a process has used so far, in ms (Linux /proc). */
export function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Start a Parley node as a separate process for a benchmark, and register users against it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tokens } from '@parley/protocol';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startParley(port: number, env: Record<string, string> = {}): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  // PARLEY_BENCH_PROFILE=DIR writes a V8 CPU profile of the server into DIR when it exits.
  const profile = process.env.PARLEY_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.PARLEY_BENCH_PROFILE] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'packages/server/src/cli.ts', 'start'], {
    // A load generator's connection stands for many users, so the per-connection flood limit is
    // lifted (the Socket.IO and ws relays have none either).
    env: {
      ...process.env,
      PARLEY_PORT: String(port),
      PARLEY_HOST: '127.0.0.1',
      PARLEY_DATA_DIR: dataDir,
      PARLEY_LOG_LEVEL: 'warn',
      PARLEY_LIMITS: 'maxFramesPerSecond=100000',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url).catch((err: unknown) => {
    // A node that never became healthy must not outlive the bench as an orphan.
    child.kill('SIGKILL');
    throw err;
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => {
          // Each run's database is ~200 MB; a caller that passed PARLEY_DATA_DIR removes its own.
          rmSync(dataDir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export async function waitHealthy(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not become healthy`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function registerUser(url: string, handle: string): Promise<Tokens> {
  const res = await fetch(`${url}/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, password: 'bench password' }),
  });
  if (res.status !== 201) throw new Error(`register ${handle}: ${res.status}`);
  return (await res.json()) as Tokens;
}

export async function command<T>(url: string, token: string, cmd: object): Promise<T> {
  const res = await fetch(`${url}/v1/cmd`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ id: 1, ...cmd }),
  });
  const frame = (await res.json()) as { t: string; data: T; code?: string };
  if (frame.t !== 'res') throw new Error(`command failed: ${frame.code}`);
  return frame.data;
}

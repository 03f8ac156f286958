/**
 * `parley start --workers N` as an operator runs it: one primary process (the CLI) on a shared
 * SQLite file and a fresh Redis prefix. The primary logs each worker's node id and pid as it becomes
 * ready; `workers()` reads them from its output, so a test can kill one worker by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../cluster/support/nodes.ts';
import { freePort, sleep, until } from '../cluster/support/ports.ts';

const CLI = join(REPO_ROOT, 'packages/server/src/cli.ts');

export interface WorkerInfo {
  node: string;
  pid: number;
}

export interface Workers {
  url: string;
  proc: ChildProcess;
  dataDir: string;
  /** Every `worker ready` the primary logged, oldest first (a restarted worker appears again). */
  readyLog(): WorkerInfo[];
  /** The current pid of each worker node id. */
  current(): Map<string, number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** SIGTERM the primary and wait; SIGKILL everything after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnPrimary(args: string[], env: Record<string, string>): { proc: ChildProcess; lines: string[]; exited: Workers['exited'] } {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'start', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PARLEY_HOST: '127.0.0.1', PARLEY_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n')) if (l) lines.push(l);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  return { proc, lines, exited };
}

export async function startWorkers(n: number, redisPrefix: string, redisUrl: string): Promise<Workers> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-workers-'));
  const { proc, lines, exited } = spawnPrimary(['--workers', String(n)], {
    PARLEY_PORT: String(port),
    PARLEY_DATA_DIR: dataDir,
    PARLEY_REDIS_URL: redisUrl,
    PARLEY_REDIS_PREFIX: redisPrefix,
    PARLEY_TOKEN_SECRET: 'workers-test-secret',
  });
  let done = false;
  void exited.then(() => (done = true));
  const readyLog = (): WorkerInfo[] =>
    lines
      .map((l) => {
        try {
          return JSON.parse(l) as { msg?: string; node?: string; pid?: number };
        } catch {
          return {};
        }
      })
      .filter((j) => j.msg === 'worker ready')
      .map((j) => ({ node: j.node ?? '', pid: j.pid ?? 0 }));
  const w: Workers = {
    url: `http://127.0.0.1:${port}`,
    proc,
    dataDir,
    readyLog,
    current: () => new Map(readyLog().map((x) => [x.node, x.pid])),
    exited,
    output: () => lines.slice(-80).join('\n'),
    async stop(timeoutMs = 20_000) {
      if (!done) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => {
          for (const pid of w.current().values()) killQuietly(pid);
          proc.kill('SIGKILL');
        }, timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
      return exited;
    },
  };
  await until(() => done || w.current().size === n, 60_000, `${n} workers ready`).catch((err: Error) => {
    proc.kill('SIGKILL');
    throw new Error(`${err.message}\n${w.output()}`);
  });
  if (done) throw new Error(`primary exited during start:\n${w.output()}`);
  return w;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export { sleep, until };

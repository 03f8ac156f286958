/**
 * Parley nodes as real, separate processes: `node --import tsx packages/server/src/cli.ts start`
 * configured by environment, as an operator would run them. A node is ready when GET /healthz
 * answers 200. Its output is kept (last lines) so a failing test can show why a node died.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep } from './ports.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const CLI = join(REPO_ROOT, 'packages/server/src/cli.ts');
export const TOKEN_SECRET = 'cluster-test-secret';

export interface ClusterEnv {
  databaseUrl: string;
  schema: string;
  redisUrl: string;
  prefix: string;
  /** Extra environment for every node (e.g. PARLEY_LOG_LEVEL). */
  extra?: Record<string, string>;
}

export interface NodeProcess {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  readonly proc: ChildProcess;
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly alive: boolean;
  /** The last lines of the node's stdout and stderr. */
  output(): string;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM (a graceful drain) and wait for the exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

export async function spawnNode(id: string, env: ClusterEnv, opts: { port?: number; readyTimeoutMs?: number } = {}): Promise<NodeProcess> {
  const port = opts.port ?? (await freePort());
  const dataDir = mkdtempSync(join(tmpdir(), `parley-${id}-`));
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'start'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PARLEY_PORT: String(port),
      PARLEY_HOST: '127.0.0.1',
      PARLEY_DATA_DIR: dataDir,
      PARLEY_NODE_ID: id,
      PARLEY_TOKEN_SECRET: TOKEN_SECRET,
      PARLEY_DATABASE_URL: env.databaseUrl,
      PARLEY_DATABASE_SCHEMA: env.schema,
      PARLEY_REDIS_URL: env.redisUrl,
      PARLEY_REDIS_PREFIX: env.prefix,
      PARLEY_LOG_LEVEL: 'warn',
      ...env.extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n')) if (l) lines.push(l.length > 400 ? `${l.slice(0, 400)}…` : l);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.once('exit', (code, signal) => {
      alive = false;
      rmSync(dataDir, { recursive: true, force: true });
      res({ code, signal });
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const node: NodeProcess = {
    id,
    port,
    url,
    proc,
    exited,
    get alive() {
      return alive;
    },
    output: () => lines.join('\n'),
    kill: (signal) => {
      if (alive) proc.kill(signal);
    },
    async stop(timeoutMs = 10_000) {
      if (!alive) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (!alive) throw new Error(`node ${id} exited before it was ready:\n${node.output()}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) return node;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`node ${id} not ready after ${opts.readyTimeoutMs ?? 30_000} ms:\n${node.output()}`);
    }
    await sleep(100);
  }
}

/** Starts the nodes at once (migrations are safe from several nodes); kills them all if one fails. */
export async function spawnNodes(ids: readonly string[], env: ClusterEnv): Promise<NodeProcess[]> {
  const started = await Promise.allSettled(ids.map((id) => spawnNode(id, env)));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    for (const r of started) if (r.status === 'fulfilled') r.value.kill('SIGKILL');
    throw failed.reason;
  }
  return started.map((r) => (r as PromiseFulfilledResult<NodeProcess>).value);
}

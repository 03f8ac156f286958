/**
 * `parley start [--port N] [--host H] [--data DIR] [--node-id ID] [--workers N|auto]` runs a node;
 * with --workers N (PARLEY_WORKERS) above 1, a primary and N worker processes sharing the port
 * (workers/Primary.ts; needs PARLEY_REDIS_URL). `auto` = one worker per core.
 * `parley migrate` creates or upgrades the store's schema and exits.
 * Environment: PORT / PARLEY_PORT, PARLEY_HOST, PARLEY_DATA_DIR, PARLEY_NODE_ID, PARLEY_TOKEN_SECRET,
 * PARLEY_LOG_LEVEL, and for a cluster PARLEY_DATABASE_URL, PARLEY_DATABASE_SCHEMA, PARLEY_REDIS_URL,
 * PARLEY_REDIS_PREFIX (see ports.ts), and PARLEY_LIMITS="name=value,..." (any limit of
 * @parley/protocol's DefaultLimits, e.g. maxFramesPerSecond=1000), PARLEY_STORE_WORKER=1 (embedded SQLite
 * writes in a writer thread), PARLEY_STORE_CHECKPOINTS=inline (WAL checkpoints in the commit that
 * fills the WAL instead of on a thread of their own, the default). Flags win over the environment. SIGTERM / SIGINT drain the
 * node, then exit.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { DefaultLimits, type Limits } from '@parley/protocol';
import { ParleyNode } from './node.ts';
import { join } from 'node:path';
import { createLogger } from './logger.ts';
import type { NodePorts } from './node.ts';
import type { PartialOptions } from './options.ts';
import { configFromEnv, portsFor } from './ports.ts';
import { SqliteStore } from './store/SqliteStore.ts';
import { randomId } from './util/ids.ts';
import { checkWorkersConfig, Primary, WorkersConfigError } from './workers/Primary.ts';
import { WorkerEnv } from './workers/messages.ts';
import { sharedTokenSecret } from './workers/secret.ts';
import { announceReady, drainOnExitSignals } from './workers/worker.ts';

function fromEnvAndFlags(argv: string[]): { command: string; options: PartialOptions; workers: number } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      'node-id': { type: 'string' },
      workers: { type: 'string' },
    },
  });
  const env = process.env;
  const port = values.port ?? env['PARLEY_PORT'] ?? env['PORT'];
  const options: PartialOptions = {};
  if (port !== undefined) options.port = Number(port);
  const host = values.host ?? env['PARLEY_HOST'];
  if (host) options.host = host;
  const dataDir = values.data ?? env['PARLEY_DATA_DIR'];
  if (dataDir) options.dataDir = dataDir;
  const nodeId = values['node-id'] ?? env['PARLEY_NODE_ID'];
  if (nodeId) options.nodeId = nodeId;
  if (env['PARLEY_TOKEN_SECRET']) options.tokenSecret = env['PARLEY_TOKEN_SECRET'];
  if (env['PARLEY_LIMITS']) options.limits = parseLimits(env['PARLEY_LIMITS']);
  if (env['PARLEY_STORE_WORKER']) options.storeWorker = env['PARLEY_STORE_WORKER'] === '1';
  if (env['PARLEY_STORE_CHECKPOINTS']) options.storeCheckpoints = env['PARLEY_STORE_CHECKPOINTS'] === 'inline' ? 'inline' : 'background';
  const w = values.workers ?? env['PARLEY_WORKERS'] ?? '1';
  const workers = w === 'auto' ? availableParallelism() : Number(w);
  return { command: positionals[0] ?? 'start', options, workers };
}

/** "maxFramesPerSecond=1000,maxGroupMembers=2048" -> limits; unknown names are an error. */
function parseLimits(text: string): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const [name = '', value = ''] = pair.split('=').map((x) => x.trim());
    if (!(name in DefaultLimits)) throw new RangeError(`PARLEY_LIMITS: unknown limit "${name}"`);
    out[name as keyof Limits] = Number(value);
  }
  return out;
}

async function migrate(options: PartialOptions, ports: NodePorts): Promise<void> {
  const store = ports.store ?? new SqliteStore({ path: join(options.dataDir ?? './data', 'parley.db') });
  await store.migrate();
  await store.close();
}

async function startPrimary(options: PartialOptions, workers: number): Promise<void> {
  const config = configFromEnv(process.env);
  checkWorkersConfig(workers, config.redisUrl);
  const logger = createLogger();
  const primary = await Primary.start({
    workers,
    nodeIdBase: options.nodeId ?? randomId('n_', 6),
    tokenSecret: sharedTokenSecret(options.tokenSecret, options.dataDir ?? './data'),
    // Only the store: its own connection, closed before the workers open theirs.
    migrate: () => migrate(options, config.databaseUrl ? portsFor({ databaseUrl: config.databaseUrl, ...(config.databaseSchema ? { databaseSchema: config.databaseSchema } : {}) }, logger) : {}),
    drainTimeoutMs: options.drainTimeoutMs ?? 5000,
    log: logger.child({ component: 'primary' }),
  });
  const shutdown = () => void primary.stop().then((code) => process.exit(code));
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

async function main(): Promise<void> {
  const { command, options, workers } = fromEnvAndFlags(process.argv.slice(2));
  if (command !== 'start' && command !== 'migrate') {
    process.stderr.write(`unknown command "${command}"; try: parley start | parley migrate\n`);
    process.exit(2);
  }
  if (command === 'start' && cluster.isPrimary && workers !== 1) return startPrimary(options, workers);
  // A worker's node id is its slot's (set by the primary), whatever --node-id says.
  if (cluster.isWorker && process.env[WorkerEnv.nodeId]) options.nodeId = process.env[WorkerEnv.nodeId];
  const logger = createLogger();
  const ports = portsFor(configFromEnv(process.env), logger);
  if (command === 'migrate') {
    await migrate(options, ports);
    process.exit(0);
  }
  const node = await ParleyNode.start(options, ports);
  if (cluster.isWorker) {
    announceReady(node);
    drainOnExitSignals(node);
    return;
  }
  const shutdown = () => {
    node.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  if (err instanceof WorkersConfigError) {
    process.stderr.write(`parley: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`parley: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

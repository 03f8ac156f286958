/**
 * `parley start [--port N] [--host H] [--data DIR] [--node-id ID]` runs a node;
 * `parley migrate` creates or upgrades the store's schema and exits.
 * Environment: PORT / PARLEY_PORT, PARLEY_HOST, PARLEY_DATA_DIR, PARLEY_NODE_ID, PARLEY_TOKEN_SECRET,
 * PARLEY_LOG_LEVEL, and for a cluster PARLEY_DATABASE_URL, PARLEY_DATABASE_SCHEMA, PARLEY_REDIS_URL,
 * PARLEY_REDIS_PREFIX (see ports.ts), and PARLEY_LIMITS="name=value,..." (any limit of
 * @parley/protocol's DefaultLimits, e.g. maxFramesPerSecond=1000). Flags win over the environment. SIGTERM / SIGINT drain the
 * node, then exit.
 */
import { parseArgs } from 'node:util';
import { DefaultLimits, type Limits } from '@parley/protocol';
import { ParleyNode } from './node.ts';
import { join } from 'node:path';
import { createLogger } from './logger.ts';
import type { PartialOptions } from './options.ts';
import { configFromEnv, portsFor } from './ports.ts';
import { SqliteStore } from './store/SqliteStore.ts';

function fromEnvAndFlags(argv: string[]): { command: string; options: PartialOptions } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      'node-id': { type: 'string' },
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
  return { command: positionals[0] ?? 'start', options };
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

async function main(): Promise<void> {
  const { command, options } = fromEnvAndFlags(process.argv.slice(2));
  const logger = createLogger();
  const ports = portsFor(configFromEnv(process.env), logger);
  if (command === 'migrate') {
    const store = ports.store ?? new SqliteStore({ path: join(options.dataDir ?? './data', 'parley.db') });
    await store.migrate();
    await store.close();
    process.exit(0);
  }
  if (command !== 'start') {
    process.stderr.write(`unknown command "${command}"; try: parley start | parley migrate\n`);
    process.exit(2);
  }
  const node = await ParleyNode.start(options, ports);
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
  process.stderr.write(`parley: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

/**
 * `parley start [--port N] [--host H] [--data DIR] [--node-id ID]`
 * Environment: PORT / PARLEY_PORT, PARLEY_HOST, PARLEY_DATA_DIR, PARLEY_NODE_ID, PARLEY_TOKEN_SECRET,
 * PARLEY_LOG_LEVEL. Flags win over the environment. SIGTERM / SIGINT drain the node, then exit.
 */
import { parseArgs } from 'node:util';
import { ParleyNode } from './node.ts';
import type { PartialOptions } from './options.ts';

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
  return { command: positionals[0] ?? 'start', options };
}

async function main(): Promise<void> {
  const { command, options } = fromEnvAndFlags(process.argv.slice(2));
  if (command !== 'start') {
    process.stderr.write(`unknown command "${command}"; try: parley start\n`);
    process.exit(2);
  }
  const node = await ParleyNode.start(options);
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

/**
 * `npm run bench -- transports [--pairs N] [--seconds S] [--rates R,...] [--window W]`
 * The direct scenario over each of Parley's transports — WebSocket, SSE (+ POST) and long polling
 * (+ POST) — against the same embedded node build, one after another in one run.
 */
import { run as direct } from './direct.ts';

export async function run(argv: string[]): Promise<unknown> {
  const args = argv.some((a) => a.startsWith('--targets')) ? argv : ['--targets', 'parley,parley-sse,parley-longpoll', ...argv];
  return direct(args);
}

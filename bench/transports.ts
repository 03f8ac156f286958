/**
 * `npm run bench -- transports [--only direct|group] [--pairs N] [--seconds S] [--rates R,...]
 *   [--window W] [--generators G] [--members M] [--interval T] [--group-seconds S]`
 *
 * Parley's transports side by side — WebSocket, SSE (+ POST for commands) and long polling
 * (+ POST) — against the same embedded node build, one after another in one run:
 * - direct: the direct scenario (bench/direct.ts) with those three targets; plot
 *   docs/benchmarks/transports.svg (p99 vs offered rate per transport);
 * - group: the group scenario (bench/group.ts) with M members (default 1024) over each transport,
 *   one message every T ms (default 50) for S s (default 10); plot docs/benchmarks/transports-group.svg.
 *   SSE members ack by POST on the SDK's schedule (bench/lib/acker.ts), long-polling members by the next poll's cursor.
 */
import { loadavg } from 'node:os';
import { run as direct } from './direct.ts';
import { groupOptions, groupRatios, groupTable, runGroupTarget, writeGroupPlot, type GroupRow } from './group.ts';
import type { Target } from './lib/drivers.ts';

const transports: Target[] = ['parley', 'parley-sse', 'parley-longpoll'];
/** Options of the group part; everything else goes to the direct scenario. */
const groupFlags = ['members', 'interval', 'group-seconds', 'senders', 'grace', 'only'];

function split(argv: string[]): { own: Record<string, string>; rest: string[] } {
  const own: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') ? a.slice(2).split('=', 2) : [''];
    if (flag && groupFlags.includes(flag)) own[flag] = inline ?? argv[++i] ?? '';
    else rest.push(a);
  }
  return { own, rest };
}

async function group(own: Record<string, string>): Promise<GroupRow[]> {
  const o = groupOptions({ ...own, seconds: own['group-seconds'] });
  const load0 = loadavg()[0]!;
  const rows: GroupRow[] = [];
  let port = 18350;
  for (const target of transports) {
    const row = await runGroupTarget(target, port++, o);
    rows.push(row);
    console.error(`[transports/group] ${target}: ${row.complete}/${row.messages} complete, last-member p99 ${row.last.p99.toFixed(1)} ms`);
  }
  const load1 = loadavg()[0]!;
  console.log(`\n### transports, group: ${o.members} members, one message every ${o.intervalMs} ms for ${o.seconds} s (load average ${load0.toFixed(2)} → ${load1.toFixed(2)})\n`);
  console.log(groupTable(rows));
  console.log(`\nParley over WebSocket as multiples of: ${groupRatios(rows).join('; ')}`);
  const path = 'docs/benchmarks/transports-group.svg';
  writeGroupPlot(path, `group over each transport: ${o.members} members, a message every ${o.intervalMs} ms`, `npm run bench -- transports --only group --members ${o.members} --interval ${o.intervalMs} · load avg ${load0.toFixed(1)}`, rows);
  console.log(`\nplot: ${path}`);
  return rows;
}

export async function run(argv: string[]): Promise<unknown> {
  const { own, rest } = split(argv);
  const out: unknown[] = [];
  if (own['only'] !== 'group') {
    const args = rest.some((a) => a.startsWith('--targets')) ? rest : ['--targets', transports.join(','), ...rest];
    out.push(await direct(rest.some((a) => a.startsWith('--plot')) ? args : [...args, '--plot', 'docs/benchmarks/transports.svg']));
  }
  if (own['only'] !== 'direct') out.push(await group(own));
  return out;
}

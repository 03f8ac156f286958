/**
 * Summarize a V8 CPU profile (`node --cpu-prof`) of the SFU bench's server: self time by
 * function, and by package (werift's layers, our rtc code, Node internals), as shares of the
 * non-idle time. `node --import tsx bench/sfu/profile.ts <file.cpuprofile> [top] [FROM-TO]`:
 * FROM-TO (seconds since the profile started) keeps only the samples of that window, e.g. the
 * forwarding steps without the start-up; the busy share per 5 s printed first helps to find it.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, windowArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile.ts <file.cpuprofile> [top] [FROM-TO]');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
const [from, to] = windowArg ? windowArg.split('-').map((x) => Number(x) * 1e6) : [0, Infinity];
const buckets: { busy: number; all: number }[] = [];
let at = 0;
prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0;
  at += dt;
  const b = (buckets[Math.floor(at / 5e6)] ??= { busy: 0, all: 0 });
  b.all += dt;
  if (byId.get(id)?.callFrame.functionName !== '(idle)') b.busy += dt;
  if (at >= from! && at < to!) self.set(id, (self.get(id) ?? 0) + dt);
});
console.log('busy share per 5 s: ' + buckets.map((b, i) => `${i * 5}s ${b ? Math.round((100 * b.busy) / b.all) : 0}%`).join(', '));

const area = (url: string, fn: string): string => {
  if (fn === '(idle)' || fn === '(program)' || fn === '(garbage collector)') return fn;
  const m = url.match(/werift\/lib\/([^/]+)\/src\/(?:([^/]+)\/)?/);
  if (m) return `werift/${m[1]}${m[2] && !m[2].endsWith('.js') ? '/' + m[2] : ''}`;
  if (url.includes('/packages/server/src/rtc/')) return 'parley rtc';
  if (url.includes('/packages/')) return 'parley other';
  if (url.startsWith('node:') || url === '') return 'node internals / native';
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  return pkg ? pkg[1]! : 'other';
};

let total = 0;
let idle = 0;
const fns = new Map<string, number>();
const areas = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const { functionName, url, lineNumber } = n.callFrame;
  total += t;
  if (functionName === '(idle)') {
    idle += t;
    continue;
  }
  const key = `${functionName || '(anonymous)'} ${url.replace(/.*node_modules\//, '').replace(/.*\/packages\//, 'packages/')}:${lineNumber + 1}`;
  fns.set(key, (fns.get(key) ?? 0) + t);
  const a = area(url, functionName);
  areas.set(a, (areas.get(a) ?? 0) + t);
}
const busy = total - idle;
const pct = (t: number) => `${((100 * t) / busy).toFixed(1)} %`;
console.log(`profile ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / total).toFixed(0)} %)\n`);
console.log('self time by area (share of busy time)');
for (const [a, t] of [...areas].sort((x, y) => y[1] - x[1])) console.log(`  ${pct(t).padStart(7)}  ${a}`);
console.log(`\ntop ${topArg ?? 30} functions by self time`);
for (const [k, t] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, Number(topArg ?? 30))) console.log(`  ${pct(t).padStart(7)}  ${k}`);

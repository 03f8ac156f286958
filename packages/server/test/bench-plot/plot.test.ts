/**
 * bench/lib/plot.ts: the SVG line-chart writer the benchmark scenarios use for docs/benchmarks/*.svg.
 * Checks the geometry (points land where the scale puts them), ticks, legend, gaps and escaping.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linearTicks, lineChart, logTicks, writeChart, type Chart } from '../../../../bench/lib/plot.ts';

function circles(svg: string): { cx: number; cy: number; title: string }[] {
  return [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"[^>]*><title>([^<]*)<\/title>/g)].map((m) => ({
    cx: Number(m[1]),
    cy: Number(m[2]),
    title: m[3]!,
  }));
}

const base: Chart = {
  title: 'p99 <latency> & rate',
  x: { label: 'offered msgs/s' },
  y: { label: 'p99 ms', scale: 'log' },
  series: [
    { name: 'parley', points: [[1000, 1], [2000, 10], [4000, 100]] },
    { name: 'ws', points: [[1000, 2], [2000, NaN], [4000, 0]] },
  ],
  width: 600,
  height: 400,
};

describe('bench plot', () => {
  it('rounds linear ticks to 1-2-5 steps and log ticks to decades', () => {
    assert.deepEqual(linearTicks(0, 10), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(linearTicks(0, 4000, 4), [0, 1000, 2000, 3000, 4000]);
    assert.deepEqual(logTicks(1, 100), [1, 2, 5, 10, 20, 50, 100]);
    assert.deepEqual(logTicks(1, 1e6), [1, 10, 100, 1000, 1e4, 1e5, 1e6]);
  });

  it('places points by scale: equal ratios are equal distances on a log axis', () => {
    const svg = lineChart(base);
    const p = circles(svg).filter((c) => c.title.startsWith('parley'));
    assert.equal(p.length, 3);
    // x linear from 0: 1000 -> 2000 is the same distance as 0 -> 1000 would be, 2000 -> 4000 twice that.
    assert.ok(Math.abs(p[2]!.cx - p[1]!.cx - 2 * (p[1]!.cx - p[0]!.cx)) < 0.5);
    // y log: 1 -> 10 and 10 -> 100 are the same height, and larger is higher (smaller cy).
    assert.ok(Math.abs(p[0]!.cy - p[1]!.cy - (p[1]!.cy - p[2]!.cy)) < 0.5);
    assert.ok(p[0]!.cy > p[1]!.cy);
    // Points inside the plot area.
    for (const c of p) assert.ok(c.cx >= 72 && c.cx <= 600 - 24 && c.cy >= 56 && c.cy <= 400);
  });

  it('leaves out points it cannot draw instead of inventing them', () => {
    const svg = lineChart(base);
    const ws = circles(svg).filter((c) => c.title.startsWith('ws'));
    assert.equal(ws.length, 1, 'NaN and 0 on a log axis are dropped');
    // One polyline for parley; ws has a single point, so no line.
    assert.equal(svg.match(/<polyline/g)?.length, 1);
  });

  it('has a legend entry per series, axis labels, and escaped text', () => {
    const svg = lineChart(base);
    assert.match(svg, /p99 &lt;latency&gt; &amp; rate/);
    assert.match(svg, />parley<\/text>/);
    assert.match(svg, />ws<\/text>/);
    assert.match(svg, />p99 ms \(log\)<\/text>/);
    assert.match(svg, />offered msgs\/s<\/text>/);
    assert.doesNotMatch(svg, /NaN|Infinity/);
  });

  it('takes categorical ticks and renders an empty chart', () => {
    const svg = lineChart({
      title: 'group',
      x: { label: 'percentile', ticks: [{ value: 0, label: 'p50' }, { value: 1, label: 'p99' }, { value: 2, label: 'max' }] },
      y: { label: 'ms' },
      series: [],
    });
    for (const l of ['p50', 'p99', 'max']) assert.match(svg, new RegExp(`>${l}</text>`));
    assert.doesNotMatch(svg, /NaN|Infinity/);
    assert.match(svg, /^<svg[\s\S]*<\/svg>\n$/);
  });

  it('writes the file, creating its folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plot-'));
    try {
      const path = writeChart(join(dir, 'a', 'b.svg'), base);
      assert.equal(readFileSync(path, 'utf8'), lineChart(base));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

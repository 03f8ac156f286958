/**
 * A small dependency-free SVG line-chart writer for benchmark reports.
 *
 * Why not a library: the chart libraries on npm either need a DOM or a canvas (chart.js →
 * node-canvas, a native build) or are large (vega, plotly); a bench needs axes, ticks, a legend and
 * a few polylines, which is ~200 lines of string building with no install risk.
 *
 * API (stable; other scenarios call it):
 *
 *   import { lineChart, writeChart } from './lib/plot.ts';
 *   writeChart('docs/benchmarks/density.svg', {
 *     title: 'RSS per connection',
 *     x: { label: 'connections', scale: 'log' },           // scale: 'linear' (default) | 'log'
 *     y: { label: 'RSS (MiB)', min: 0 },                   // min/max optional; ticks optional
 *     series: [{ name: 'parley', points: [[1000, 30], [10000, 95]] }, ...],
 *   });
 *
 * - `lineChart(chart)` returns the SVG text; `writeChart(path, chart)` also creates the folder and
 *   writes the file.
 * - Points are [x, y]; a point with a non-finite coordinate, or ≤ 0 on a log axis, is left out (the
 *   line breaks there rather than lying). Points are drawn in the order given.
 * - `axis.ticks` replaces the automatic ticks: numbers, or {value, label} for categorical axes
 *   (e.g. x = 0,1,2,3 labelled p50, p90, p99, max).
 * - Series get colours from a fixed palette in order; `series[i].color` overrides. `dashed` draws a
 *   dashed line (e.g. a target line).
 * - An empty chart (no drawable points) still renders axes, so a failed run leaves a visible file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type Scale = 'linear' | 'log';

export interface Tick {
  value: number;
  label: string;
}

export interface Axis {
  label: string;
  /** Default 'linear'. */
  scale?: Scale;
  /** Bounds; default: the data's extent (linear axes start at 0 when all data is positive). */
  min?: number;
  max?: number;
  /** Fixed ticks instead of automatic ones. */
  ticks?: (number | Tick)[];
}

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
  dashed?: boolean;
}

export interface Chart {
  title: string;
  /** A smaller second line under the title (the command, the load average ...). */
  subtitle?: string;
  x: Axis;
  y: Axis;
  series: Series[];
  /** Pixels; default 720 × 420. */
  width?: number;
  height?: number;
}

export const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const margin = { left: 72, right: 24, top: 56, bottom: 56 };

/** Round-number ticks (1, 2, 5 × 10^k) covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Powers of ten in [lo, hi]; with 1-2-5 in between when the range spans less than three decades. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const dense = Math.log10(hi / lo) < 3;
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of dense ? [1, 2, 5] : [1]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (a >= 1 || a === 0) return String(Number(v.toPrecision(4)));
  return String(Number(v.toPrecision(2)));
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

interface Mapped {
  toPx(v: number): number;
  ticks: Tick[];
}

function mapAxis(axis: Axis, values: number[], from: number, to: number): Mapped {
  const log = axis.scale === 'log';
  const data = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  const tickValues = (axis.ticks ?? []).map((t) => (typeof t === 'number' ? t : t.value));
  let lo = axis.min ?? Math.min(...data, ...tickValues);
  let hi = axis.max ?? Math.max(...data, ...tickValues);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = log ? [1, 10] : [0, 1];
  if (!log && axis.min === undefined && lo > 0 && axis.ticks === undefined) lo = 0;
  if (log) {
    lo = axis.min ?? 10 ** Math.floor(Math.log10(lo));
    hi = axis.max ?? 10 ** Math.ceil(Math.log10(hi));
    if (hi <= lo) hi = lo * 10;
  } else if (hi <= lo) {
    hi = lo + 1;
  } else if (axis.max === undefined && axis.ticks === undefined) {
    const t = linearTicks(lo, hi);
    const step = t.length > 1 ? t[1]! - t[0]! : 1;
    if (t[t.length - 1]! < hi) hi = t[t.length - 1]! + step;
  }
  const f = log ? (v: number) => Math.log10(v) : (v: number) => v;
  const [a, b] = [f(lo), f(hi)];
  const toPx = (v: number) => from + ((f(v) - a) / (b - a)) * (to - from);
  const ticks: Tick[] = axis.ticks
    ? axis.ticks.map((t) => (typeof t === 'number' ? { value: t, label: formatNumber(t) } : t))
    : (log ? logTicks(lo, hi) : linearTicks(lo, hi)).map((v) => ({ value: v, label: formatNumber(v) }));
  return { toPx, ticks: ticks.filter((t) => t.value >= lo - 1e-9 * Math.abs(lo) && t.value <= hi + 1e-9 * Math.abs(hi)) };
}

function drawable(axis: Axis, v: number): boolean {
  return Number.isFinite(v) && (axis.scale !== 'log' || v > 0);
}

/** The chart as SVG text. */
export function lineChart(chart: Chart): string {
  const W = chart.width ?? 720;
  const H = chart.height ?? 420;
  // Legend: as many columns as the longest name allows (text width estimated at 6.6 px a character).
  const colW = 46 + 6.6 * Math.max(0, ...chart.series.map((x) => x.name.length));
  const cols = Math.max(1, Math.floor((W - margin.left - margin.right) / colW));
  const legendH = 18 * Math.ceil(chart.series.length / cols);
  const plot = { x0: margin.left, x1: W - margin.right, y0: H - margin.bottom - legendH, y1: margin.top };
  const pts = chart.series.flatMap((s) => s.points.filter(([x, y]) => drawable(chart.x, x) && drawable(chart.y, y)));
  const X = mapAxis(chart.x, pts.map((p) => p[0]), plot.x0, plot.x1);
  const Y = mapAxis(chart.y, pts.map((p) => p[1]), plot.y0, plot.y1);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`);
  if (chart.subtitle) {
    // Shrink a long subtitle to fit, down to 9 px, then cut it.
    const size = Math.max(9, Math.min(12, (W - 20) / (0.55 * chart.subtitle.length)));
    const fit = Math.floor((W - 20) / (0.55 * size));
    const text = chart.subtitle.length > fit ? `${chart.subtitle.slice(0, fit - 1)}…` : chart.subtitle;
    out.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555" font-size="${size.toFixed(1)}">${escapeXml(text)}</text>`);
  }
  for (const t of X.ticks) {
    const x = X.toPx(t.value).toFixed(1);
    out.push(`<line x1="${x}" y1="${plot.y1}" x2="${x}" y2="${plot.y0}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${plot.y0 + 16}" text-anchor="middle">${escapeXml(t.label)}</text>`);
  }
  for (const t of Y.ticks) {
    const y = Y.toPx(t.value).toFixed(1);
    out.push(`<line x1="${plot.x0}" y1="${y}" x2="${plot.x1}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${plot.x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(t.label)}</text>`);
  }
  out.push(`<rect x="${plot.x0}" y="${plot.y1}" width="${plot.x1 - plot.x0}" height="${plot.y0 - plot.y1}" fill="none" stroke="#333"/>`);
  const xName = chart.x.label + (chart.x.scale === 'log' ? ' (log)' : '');
  const yName = chart.y.label + (chart.y.scale === 'log' ? ' (log)' : '');
  out.push(`<text x="${(plot.x0 + plot.x1) / 2}" y="${plot.y0 + 36}" text-anchor="middle">${escapeXml(xName)}</text>`);
  out.push(`<text transform="translate(16 ${(plot.y0 + plot.y1) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yName)}</text>`);
  chart.series.forEach((s, i) => {
    const color = s.color ?? palette[i % palette.length]!;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    // Split into runs at undrawable points so a gap shows as a gap.
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${run.join(' ')}"/>`);
      run = [];
    };
    for (const [x, y] of s.points) {
      if (!drawable(chart.x, x) || !drawable(chart.y, y)) {
        flush();
        continue;
      }
      const p = `${X.toPx(x).toFixed(1)},${Y.toPx(y).toFixed(1)}`;
      run.push(p);
      out.push(`<circle cx="${X.toPx(x).toFixed(1)}" cy="${Y.toPx(y).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(`${s.name}: ${formatNumber(x)}, ${formatNumber(y)}`)}</title></circle>`);
    }
    flush();
    const lx = plot.x0 + (i % cols) * colW;
    const ly = H - legendH - 4 + 18 * Math.floor(i / cols) + 12;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Writes the chart to `path` (creating its folder) and returns the path. */
export function writeChart(path: string, chart: Chart): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, lineChart(chart));
  return path;
}

/** One measured step of a rate-stepping scenario (direct, transports). */
export interface RateStep {
  target: string;
  /** Offered msgs/s; 'max' (a closed-loop step) has no offered rate and is not drawn. */
  offered: number | 'max';
  p99: number;
}

/**
 * The chart of the direct and transports scenarios: p99 send → delivery latency (log) against the
 * offered rate, one series per target, in the order the targets first appear.
 */
export function writeRateChart(path: string, title: string, subtitle: string, steps: readonly RateStep[]): string {
  const names = [...new Set(steps.map((s) => s.target))];
  return writeChart(path, {
    title,
    subtitle,
    x: { label: 'offered msgs/s' },
    y: { label: 'p99 send → delivery latency (ms)', scale: 'log' },
    series: names.map((name) => ({
      name,
      points: steps.filter((s) => s.target === name && s.offered !== 'max').map((s) => [s.offered as number, s.p99] as [number, number]),
    })),
  });
}

/** The benchmark's private namespace in PostgreSQL (a fresh schema) and Redis (a fresh prefix). */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';

export const BENCH_PG = process.env['PARLEY_BENCH_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const BENCH_REDIS = process.env['PARLEY_BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';

export async function namespace(): Promise<{ schema: string; prefix: string; drop(): Promise<void> }> {
  const id = randomBytes(4).toString('hex');
  const schema = `parley_bench_${id}`;
  const prefix = `bench:${id}:`;
  const c = new pg.Client({ connectionString: BENCH_PG });
  await c.connect();
  await c.query(`CREATE SCHEMA "${schema}"`);
  await c.end();
  return {
    schema,
    prefix,
    async drop() {
      const d = new pg.Client({ connectionString: BENCH_PG });
      await d.connect();
      await d.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await d.end();
      const r = new Redis(BENCH_REDIS);
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await r.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      r.disconnect();
    },
  };
}

/** Sum of the samples of one metric (all label sets matching `labels`) from a node's /metrics. */
export async function scrape(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

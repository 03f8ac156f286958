/**
 * The `parley-pg` target of the direct and group benches: one Parley node in its cluster
 * configuration (PostgreSQL store, Redis broker/router/presence) instead of the embedded SQLite
 * store, in a fresh PostgreSQL schema and Redis prefix per run (bench/cluster/backing.ts), dropped
 * when the target stops. Its durable writes then cost CPU in the PostgreSQL backends and Redis, not
 * in the node: `backingCpuMs` reads that CPU so the report can show it beside the node's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { PostgresStore } from '../../packages/server/src/store/PostgresStore.ts';
import { BENCH_PG, BENCH_REDIS, namespace } from '../cluster/backing.ts';

export interface PgBacking {
  /** The environment that points a node at this run's schema and prefix. */
  env: Record<string, string>;
  /** A store on the same schema (migrated), for seeding users before the node starts. */
  store(): Promise<PostgresStore>;
  /**
   * Gathers planner statistics for the schema once the bench's rows exist. A fresh schema has none
   * until autovacuum's first pass (up to a minute in), and the planner then takes every table for
   * a few rows: a 1,024-member group's watermark scans ran as 1,024 index probes, 5x slower than
   * the hash join a deployment with statistics gets.
   */
  analyze(): Promise<void>;
  drop(): Promise<void>;
}

export async function pgBacking(): Promise<PgBacking> {
  const ns = await namespace();
  return {
    env: { PARLEY_DATABASE_URL: BENCH_PG, PARLEY_DATABASE_SCHEMA: ns.schema, PARLEY_REDIS_URL: BENCH_REDIS, PARLEY_REDIS_PREFIX: ns.prefix },
    async store() {
      const s = new PostgresStore({ connectionString: BENCH_PG, schema: ns.schema });
      await s.migrate();
      return s;
    },
    async analyze() {
      const c = new pg.Client({ connectionString: BENCH_PG, options: `-c search_path=${ns.schema}` });
      await c.connect();
      try {
        await c.query('ANALYZE');
      } finally {
        await c.end();
      }
    },
    drop: () => ns.drop(),
  };
}

/** CPU (user + system, ms) used so far by every PostgreSQL and Redis server process on the machine. */
export function backingCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(open + 1, close);
    if (comm !== 'postgres' && !comm.startsWith('redis-server')) continue;
    const fields = stat.slice(close + 2).split(' ');
    total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  }
  return total;
}

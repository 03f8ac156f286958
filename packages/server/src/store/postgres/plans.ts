/**
 * Stale plans. PostgreSQL caches plans per connection: one per named statement (prepared.ts) and
 * per statement of a PL/pgSQL function, and after five executions it may keep a generic plan,
 * costed with the table sizes of that moment, until the statistics change. On a young database the
 * log and message tables grow from nothing to millions of rows within the life of a connection, and
 * autovacuum's ANALYZE, which would invalidate those plans, runs at most once a minute (and only past
 * its thresholds). Seen: an ack batch's scan of `events`, planned as a hash join over a sequential
 * scan while the table had a few pages, still ran that way at 800,000 rows: 50 ms per batch instead
 * of 0.5 (direct bench, PostgreSQL, first 20 s of a fresh schema).
 *
 * So each connection drops its cached plans (DISCARD PLANS: statements stay prepared, each is planned
 * again at its next use) 1 s after it was first used, then after 2, 4, 8 ... s, at most every five
 * minutes: a plan is at most one doubling of the tables' age old.
 */
import type { PoolClient } from 'pg';

const FIRST_MS = 1000;
const MAX_GAP_MS = 300_000;

const due = new WeakMap<PoolClient, { at: number; gap: number }>();

/** Called as a pooled client is checked out, before anything else runs on it. */
export async function refreshPlans(client: PoolClient, now = performance.now()): Promise<void> {
  const d = due.get(client);
  if (!d) {
    due.set(client, { at: now + FIRST_MS, gap: FIRST_MS });
    return;
  }
  if (now < d.at) return;
  d.gap = Math.min(MAX_GAP_MS, d.gap * 2);
  d.at = now + d.gap;
  await client.query('DISCARD PLANS');
}

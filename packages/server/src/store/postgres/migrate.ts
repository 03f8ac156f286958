/**
 * Applies pending migrations in one transaction under a transaction-scoped advisory lock, so
 * several nodes starting at once apply each migration exactly once: the others wait, then see
 * it recorded and do nothing.
 */
import type { PoolClient } from 'pg';
import { postgresMigrations } from './migrations.ts';

export async function migrate(client: PoolClient, schema: string | undefined): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`parley:migrate:${schema ?? ''}`]);
  // The schema name was checked against a strict identifier pattern by the store's constructor.
  if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await client.query(`CREATE TABLE IF NOT EXISTS parley_migrations (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM parley_migrations');
  for (let v = rows[0]?.v ?? 0; v < postgresMigrations.length; v++) {
    await client.query(postgresMigrations[v] ?? '');
    await client.query('INSERT INTO parley_migrations (version) VALUES ($1)', [v + 1]);
  }
}

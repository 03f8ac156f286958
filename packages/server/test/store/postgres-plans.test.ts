/**
 * plans.ts: when a pooled connection drops its cached plans (a unit test with a recording client;
 * what DISCARD PLANS does is PostgreSQL's).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { PoolClient } from 'pg';
import { refreshPlans } from '../../src/store/postgres/plans.ts';

function recorder(): { client: PoolClient; sent: string[] } {
  const sent: string[] = [];
  const client = { query: async (text: string) => void sent.push(text) } as unknown as PoolClient;
  return { client, sent };
}

it('drops plans 1 s after first use, then at doubling gaps, never more than 5 minutes apart', async () => {
  const { client, sent } = recorder();
  const discardsAt: number[] = [];
  for (let t = 0; t <= 2_000_000; t += 250) {
    const before = sent.length;
    await refreshPlans(client, t);
    if (sent.length > before) discardsAt.push(t);
  }
  assert.ok(sent.every((q) => q === 'DISCARD PLANS'));
  const gaps = discardsAt.map((t, i) => t - (discardsAt[i - 1] ?? 0));
  assert.deepEqual(gaps.slice(0, 9), [1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000]);
  assert.ok(gaps.slice(9).every((g) => g === 300_000), `later gaps: ${gaps.slice(9).join(', ')}`);
});

it('keeps a schedule per connection', async () => {
  const a = recorder();
  const b = recorder();
  await refreshPlans(a.client, 0);
  await refreshPlans(b.client, 900);
  await refreshPlans(a.client, 1000);
  await refreshPlans(b.client, 1000);
  assert.deepEqual([a.sent.length, b.sent.length], [1, 0]);
  await refreshPlans(b.client, 1900);
  assert.equal(b.sent.length, 1);
});

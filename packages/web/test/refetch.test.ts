/**
 * The web store's conversation refetching (src/refetch.ts) with fetches the test answers by hand:
 * a fetch overtaken by a change is dropped and run again, so an older copy never has the last word.
 * The real thing in Chromium is in group.test.ts (remove a member, add her back).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Refetcher } from '../src/refetch.ts';

/** Fetches that wait until the test answers them, in the order they started. */
function manual() {
  const pending: { key: string; answer: (v: string) => void; reject: (e: unknown) => void }[] = [];
  const applied: string[] = [];
  const failed: string[] = [];
  let settled = 0;
  const r = new Refetcher<string, string>(
    (key) => new Promise((answer, reject) => pending.push({ key, answer, reject })),
    (key, v) => applied.push(`${key}=${v}`),
    (key, e) => failed.push(`${key}:${(e as Error).message}`),
    () => settled++,
  );
  const tick = () => new Promise((res) => setImmediate(res));
  return { r, pending, applied, failed, tick, settled: () => settled };
}

test('one fetch: its answer is applied and the run settles', async () => {
  const m = manual();
  const done = m.r.run('a');
  assert.equal(m.pending.length, 1);
  m.pending[0]!.answer('v1');
  await done;
  assert.deepEqual(m.applied, ['a=v1']);
  assert.equal(m.settled(), 1);
});

test('a call while a fetch runs drops that answer and fetches again; the later answer is applied', async () => {
  const m = manual();
  const first = m.r.run('a');
  const second = m.r.run('a');
  assert.equal(m.pending.length, 1, 'calls share the running fetch');
  m.pending[0]!.answer('old');
  await m.tick();
  assert.deepEqual(m.applied, [], 'the answer that may predate the change is not applied');
  assert.equal(m.pending.length, 2, 'a second fetch started');
  m.pending[1]!.answer('new');
  await Promise.all([first, second]);
  assert.deepEqual(m.applied, ['a=new']);
  assert.equal(m.settled(), 1);
});

test('invalidate (a newer copy came another way) makes the running fetch go again, without starting one when idle', async () => {
  const m = manual();
  m.r.invalidate('a');
  assert.equal(m.pending.length, 0);
  const done = m.r.run('a');
  m.r.invalidate('a');
  m.pending[0]!.answer('before-the-command');
  await m.tick();
  assert.equal(m.pending.length, 2);
  m.pending[1]!.answer('after');
  await done;
  assert.deepEqual(m.applied, ['a=after']);
});

test('a failure is reported only when no change came meanwhile; keys are independent', async () => {
  const m = manual();
  const a = m.r.run('a');
  const b = m.r.run('b');
  m.r.run('a');
  m.pending[0]!.reject(new Error('gone'));
  m.pending[1]!.reject(new Error('gone'));
  await b;
  assert.deepEqual(m.failed, ['b:gone']);
  await m.tick();
  assert.equal(m.pending.length, 3, 'the stale failure for a is retried');
  m.pending[2]!.answer('back');
  await a;
  assert.deepEqual(m.applied, ['a=back']);
  assert.deepEqual(m.failed, ['b:gone']);
  // After settling, a new call starts a new fetch.
  const again = m.r.run('a');
  assert.equal(m.pending.length, 4);
  m.pending[3]!.answer('later');
  await again;
  assert.deepEqual(m.applied, ['a=back', 'a=later']);
});

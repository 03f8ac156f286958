/**
 * The meeting's automatic rejoin policy (src/meeting/rejoin.ts) with scripted steps: bounded
 * attempts with growing delays, waiting for the link, permanent refusals, cancellation. The real
 * thing in Chromium is in meeting.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParleyError } from '@parley/client';
import { defaultRejoinPolicy, isPermanent, isRecoverable, rejoin, type RejoinPolicy, type RejoinSteps } from '../src/meeting/rejoin.ts';

const policy: RejoinPolicy = { ...defaultRejoinPolicy, attempts: 4, backoff: { initialMs: 100, maxMs: 250, factor: 2 } };

/** Steps whose attempts answer from `results` (a value, or an error to throw), recording what ran. */
function script(results: (boolean | Error)[], opts: { link?: boolean[]; cancelAfter?: number } = {}) {
  const log: string[] = [];
  const links = [...(opts.link ?? [])];
  let cancelled = false;
  const steps: RejoinSteps = {
    link: async (ms) => {
      log.push(`link ${ms}`);
      return links.shift() ?? true;
    },
    attempt: async (n) => {
      log.push(`attempt ${n}`);
      if (opts.cancelAfter === n) cancelled = true;
      const r = results.shift() ?? false;
      if (r instanceof Error) throw r;
      return r;
    },
    sleep: async (ms) => void log.push(`sleep ${ms}`),
    cancelled: () => cancelled,
  };
  return { steps, log };
}

// random() = 1: every delay is its upper bound, d = min(maxMs, initialMs * factor^k).
const top = () => 1;

test('the first attempt goes at once; later ones after growing, capped delays; success stops', async () => {
  const { steps, log } = script([false, false, true]);
  assert.deepEqual(await rejoin(policy, steps, 1, top), { ok: true, attempts: 3 });
  assert.deepEqual(log, ['link 60000', 'attempt 1', 'sleep 100', 'link 60000', 'attempt 2', 'sleep 200', 'link 60000', 'attempt 3']);
});

test('attempts are bounded: after the last failure it gives up', async () => {
  const { steps, log } = script([false, false, false, false, true]);
  assert.deepEqual(await rejoin(policy, steps, 1, top), { ok: false, why: 'attempts', attempts: 4 });
  assert.equal(log.filter((l) => l.startsWith('attempt')).length, 4);
  assert.deepEqual(log.filter((l) => l.startsWith('sleep')), ['sleep 100', 'sleep 200', 'sleep 250']);
});

test('an outage soon after a rejoin continues the count (and the delays) where it stopped', async () => {
  const { steps, log } = script([false, false]);
  assert.deepEqual(await rejoin(policy, steps, 3, top), { ok: false, why: 'attempts', attempts: 4 });
  assert.deepEqual(log, ['sleep 250', 'link 60000', 'attempt 3', 'sleep 250', 'link 60000', 'attempt 4']);
  const past = script([]);
  assert.deepEqual(await rejoin(policy, past.steps, 5, top), { ok: false, why: 'attempts', attempts: 4 });
  assert.deepEqual(past.log, [], 'nothing left to try');
});

test('a link that does not come back gives up without an attempt', async () => {
  const { steps, log } = script([true], { link: [false] });
  assert.deepEqual(await rejoin(policy, steps, 1, top), { ok: false, why: 'link', attempts: 0 });
  assert.deepEqual(log, ['link 60000']);
});

test('a permanent refusal stops at once, with the error', async () => {
  const err = new ParleyError('NOT_MEMBER', 'not a member');
  const { steps, log } = script([false, err, true]);
  const out = await rejoin(policy, steps, 1, top);
  assert.equal(out.ok, false);
  assert.equal(!out.ok && out.why, 'refused');
  assert.equal(!out.ok && out.why === 'refused' && out.error, err);
  assert.equal(log.filter((l) => l.startsWith('attempt')).length, 2);
});

test('leaving during an attempt stops the loop and reports cancelled', async () => {
  const { steps, log } = script([false, true], { cancelAfter: 1 });
  assert.deepEqual(await rejoin(policy, steps, 1, top), { ok: false, why: 'cancelled', attempts: 1 });
  assert.deepEqual(log, ['link 60000', 'attempt 1']);
});

test('which errors are permanent and which closed reasons are worth a rejoin', () => {
  for (const code of ['NOT_MEMBER', 'NOT_FOUND', 'FORBIDDEN', 'INVALID', 'UNAUTHORIZED'] as const) assert.equal(isPermanent(new ParleyError(code, 'x')), true, code);
  for (const e of [new ParleyError('INTERNAL', 'x'), new Error('timeout'), { code: 'RATE_LIMITED' }]) assert.equal(isPermanent(e), false);
  for (const r of ['peer connection failed', 'publishing peer connection lost', 'subscribing peer connection never connected', 'negotiation failed', 'room closed']) assert.equal(isRecoverable(r), true, r);
  assert.equal(isRecoverable('removed'), false);
});

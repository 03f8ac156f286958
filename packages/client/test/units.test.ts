/** Small pieces: ticks, typing throttle, backoff, pacer, storage. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, LocalStorage, MemoryStorage, Pacer, TypingThrottle, Watermarks, newClientMessageId, tickState, type WebStorageLike } from '../src/index.ts';
import { sleep } from './helpers.ts';

describe('tickState', () => {
  it('compares the seq with the all-members watermarks', () => {
    const w = { delivered: 10, read: 5 };
    assert.equal(tickState({}, w), 'pending');
    assert.equal(tickState({ seq: null }, w), 'pending');
    assert.equal(tickState({ seq: 11 }, w), 'sent');
    assert.equal(tickState({ seq: 10 }, w), 'delivered');
    assert.equal(tickState({ seq: 5 }, w), 'read');
    assert.equal(tickState({ seq: 3 }, undefined), 'sent');
  });

  it('Watermarks only move forward, and read implies delivered', () => {
    const m = new Watermarks();
    assert.equal(m.update('c' as never, 3, 1), true);
    assert.equal(m.update('c' as never, 2, 0), false);
    assert.equal(m.update('c' as never, 3, 7), true);
    assert.deepEqual(m.get('c' as never), { delivered: 7, read: 7 });
  });
});

describe('TypingThrottle', () => {
  it('sends on at most once per throttle window and off after idle', async () => {
    const sent: [boolean, number][] = [];
    // The time the throttle itself read for each frame (a timestamp taken in the callback would
    // add the callback's own delay, which differs from frame to frame).
    let seen = 0;
    const clock = () => (seen = performance.now());
    const t = new TypingThrottle({ throttleMs: 100, idleMs: 150 }, (_c, on) => sent.push([on, seen]), clock);
    const end = Date.now() + 300;
    while (Date.now() < end) {
      t.typing('c' as never);
      await sleep(5);
    }
    await sleep(250);
    const ons = sent.filter(([on]) => on);
    // Called ~60 times in 300 ms: 3 or 4 frames on an idle machine; a busy one runs the loop's timers
    // late (fewer calls), so only the bounds that hold whatever the timing: at least one, never more
    // than the window allows, never closer than the window.
    assert.ok(ons.length >= 1 && ons.length <= 4, `on frames: ${ons.length}`);
    for (let i = 1; i < ons.length; i++) {
      const gap = ons[i]![1] - ons[i - 1]![1];
      assert.ok(gap >= 100, `on frames ${gap} ms apart`);
    }
    assert.deepEqual(
      sent.map(([on]) => on),
      [...ons.map(() => true), false],
    );
    sent.length = 0;
    t.typing('c' as never);
    t.stop('c' as never);
    t.stop('c' as never);
    assert.deepEqual(
      sent.map(([on]) => on),
      [true, false],
    );
    t.close();
  });
});

describe('Backoff', () => {
  it('grows exponentially with equal jitter, capped, and resets', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2 }, () => 1);
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
    b.reset();
    const low = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2 }, () => 0);
    assert.equal(low.next(), 50);
    assert.equal(b.next(), 100);
  });
});

describe('Pacer', () => {
  it('lets a burst through, then keeps to the rate, in order', async () => {
    const out: number[] = [];
    const p = new Pacer<number>(100, 5, (n) => out.push(n));
    for (let i = 0; i < 10; i++) p.push(i);
    assert.deepEqual(out, [0, 1, 2, 3, 4]);
    // The rest follow at the rate (10 ms apart here); waited for, not timed: a loaded machine runs
    // the pacer's timers late.
    const deadline = Date.now() + 10_000;
    while (out.length < 10 && Date.now() < deadline) await sleep(10);
    assert.deepEqual(out, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    p.clear();
  });
});

describe('storage', () => {
  it('MemoryStorage and LocalStorage keep values and list keys by prefix', async () => {
    const map = new Map<string, string>();
    const web: WebStorageLike = {
      get length() {
        return map.size;
      },
      key: (i) => [...map.keys()][i] ?? null,
      getItem: (k) => map.get(k) ?? null,
      setItem: (k, v) => void map.set(k, v),
      removeItem: (k) => void map.delete(k),
    };
    for (const s of [new MemoryStorage(), new LocalStorage('ns:', web)]) {
      await s.set('outbox:1', 'a');
      await s.set('outbox:2', 'b');
      await s.set('cursor', '5');
      assert.deepEqual((await s.keys('outbox:')).sort(), ['outbox:1', 'outbox:2']);
      await s.remove('outbox:1');
      assert.equal(await s.get('outbox:1'), null);
      assert.equal(await s.get('cursor'), '5');
    }
    assert.ok(map.has('ns:cursor'));
  });
});

describe('newClientMessageId', () => {
  it('is a UUIDv7: the time in its first 48 bits, version 7, RFC variant, later ids sort later', () => {
    const t = Date.UTC(2026, 10, 28, 12, 0, 0);
    const id = newClientMessageId(t);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), t);
    const ids = [t, t + 1, t + 1000, t + 86_400_000].map((ms) => newClientMessageId(ms));
    assert.deepEqual([...ids].sort(), ids);
    assert.notEqual(newClientMessageId(t), newClientMessageId(t), 'random bits differ within one ms');
  });
});

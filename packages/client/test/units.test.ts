/** Small pieces: ticks, typing throttle, backoff, pacer, storage. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, LocalStorage, MemoryStorage, Pacer, TypingThrottle, Watermarks, tickState, type WebStorageLike } from '../src/index.ts';
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
    const t = new TypingThrottle({ throttleMs: 100, idleMs: 150 }, (_c, on) => sent.push([on, Date.now()]));
    const end = Date.now() + 300;
    while (Date.now() < end) {
      t.typing('c' as never);
      await sleep(5);
    }
    await sleep(250);
    const ons = sent.filter(([on]) => on);
    // Called ~60 times in 300 ms: 3 or 4 frames (timers may run late on a busy machine), never closer than the window.
    assert.ok(ons.length >= 2 && ons.length <= 4, `on frames: ${ons.length}`);
    for (let i = 1; i < ons.length; i++) assert.ok(ons[i]![1] - ons[i - 1]![1] >= 100);
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
    await sleep(80);
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

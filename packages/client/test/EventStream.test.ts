import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CursorEvent, LogEvent, WelcomeFrame } from '@parley/protocol';
import { EventStream, type EventStreamDeps } from '../src/index.ts';
import { until } from './helpers.ts';

const ev = (c: number): LogEvent => ({ k: 'read', conv: 'c1' as never, seq: c });
const welcome = (from: number): WelcomeFrame =>
  ({ t: 'welcome', user: 'u' as never, device: 'd' as never, node: 'n', from, head: from, limits: {} as never }) as WelcomeFrame;

function harness(log: CursorEvent[], over: Partial<EventStreamDeps> = {}) {
  const processed: number[] = [];
  const acks: number[] = [];
  const persisted: number[] = [];
  const syncs: number[] = [];
  const deps: EventStreamDeps = {
    process: (e) => processed.push(e.c),
    sync: async (after) => {
      syncs.push(after);
      return { events: log.filter((e) => e.c > after).slice(0, 2), head: log.length };
    },
    ack: (c) => (acks.push(c), true),
    persist: (c) => persisted.push(c),
    error: (err) => {
      throw err;
    },
    ackDelayMs: 20,
    ackEvery: 3,
    ackIntervalMs: 0,
    ...over,
  };
  return { stream: new EventStream(deps, null), processed, acks, persisted, syncs };
}

describe('EventStream', () => {
  it('drops duplicates and starts at the welcome cursor', () => {
    const h = harness([]);
    h.stream.welcome(welcome(4), false);
    for (const c of [3, 4, 5, 5, 6, 4, 7]) h.stream.receive(c, ev(c));
    assert.deepEqual(h.processed, [5, 6, 7]);
    assert.equal(h.stream.cursor, 7);
  });

  it('fills a gap with sync, then releases the held events in order', async () => {
    const log = Array.from({ length: 10 }, (_, i) => ({ c: i + 1, e: ev(i + 1) }));
    const h = harness(log);
    h.stream.welcome(welcome(0), false);
    h.stream.receive(1, ev(1));
    h.stream.receive(6, ev(6));
    h.stream.receive(7, ev(7));
    await until(() => h.processed.length === 7, 1000, 'gap filled');
    assert.deepEqual(h.processed, [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(h.syncs, [1, 3]);
  });

  it('acks cumulatively: at once after ackEvery events, else after ackDelayMs; persists the cursor', async () => {
    const h = harness([]);
    h.stream.welcome(welcome(0), false);
    for (const c of [1, 2, 3]) h.stream.receive(c, ev(c));
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(h.acks, [3]);
    h.stream.receive(4, ev(4));
    assert.deepEqual(h.acks, [3]);
    await until(() => h.acks.length === 2, 1000, 'debounced ack');
    assert.deepEqual(h.acks, [3, 4]);
    assert.deepEqual(h.persisted.at(-1), 4);
  });

  it('while events keep coming, acks at most once per ackIntervalMs, but persists on the debounce', async () => {
    const h = harness([], { ackDelayMs: 10, ackEvery: 1000, ackIntervalMs: 300 });
    h.stream.welcome(welcome(0), false);
    h.stream.receive(1, ev(1));
    // The first event after a quiet spell: acked after the debounce.
    await until(() => h.acks.length === 1, 1000, 'first ack');
    const firstAt = Date.now();
    assert.deepEqual(h.acks, [1]);
    h.stream.receive(2, ev(2));
    await until(() => h.persisted.at(-1) === 2, 1000, 'persisted on the debounce');
    assert.deepEqual(h.acks, [1], 'no second ack inside the interval');
    h.stream.receive(3, ev(3));
    await until(() => h.acks.length === 2, 2000, 'ack after the interval');
    assert.ok(Date.now() - firstAt >= 250, `second ack ${Date.now() - firstAt} ms after the first`);
    assert.deepEqual(h.acks, [1, 3], 'one cumulative ack for both');
  });

  it('ackEvery and a new welcome ack at once, inside the interval too', async () => {
    const h = harness([], { ackDelayMs: 10, ackEvery: 2, ackIntervalMs: 60_000 });
    h.stream.welcome(welcome(0), false);
    h.stream.receive(1, ev(1));
    await until(() => h.acks.length === 1, 1000, 'first ack');
    for (const c of [2, 3]) h.stream.receive(c, ev(c));
    await until(() => h.acks.length === 2, 1000, 'ackEvery inside the interval');
    assert.deepEqual(h.acks, [1, 3]);
    h.stream.receive(4, ev(4));
    h.stream.welcome(welcome(4), false);
    await until(() => h.acks.length === 3, 1000, 'ack after welcome inside the interval');
    assert.deepEqual(h.acks, [1, 3, 4]);
  });

  it('re-acks after a new welcome, and a BAD_CURSOR reset takes the server cursor', async () => {
    const h = harness([]);
    h.stream.restore(9);
    h.stream.welcome(welcome(9), false);
    await until(() => h.acks.length === 1, 1000, 'ack after welcome');
    assert.deepEqual(h.acks, [9]);
    h.stream.welcome(welcome(2), true);
    assert.equal(h.stream.cursor, 2);
    h.stream.receive(3, ev(3));
    assert.deepEqual(h.processed, [3]);
  });
});

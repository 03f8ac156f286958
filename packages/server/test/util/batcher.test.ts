import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher } from '../../src/util/Batcher.ts';

describe('Batcher', () => {
  it('rejects every item of a failed batch and, when the error says the service is down, everything queued behind it', async () => {
    const down = new Error('down');
    let calls = 0;
    const b = new Batcher<number, undefined>(
      async (items) => {
        calls += 1;
        if (calls === 1) throw down;
        return items.map(() => undefined);
      },
      2,
      0,
      (e) => e === down,
    );
    const all = [1, 2, 3, 4].map((i) => b.submit(i).then(() => 'ok', (e: unknown) => (e === down ? 'down' : 'other')));
    assert.deepEqual(await Promise.all(all), ['down', 'down', 'down', 'down']);
    assert.equal(calls, 1, 'nothing behind the failed batch was flushed');
    assert.equal(await b.submit(5), undefined, 'a later item is flushed again');
  });

  it('hands items of one turn to one flush, at most max at a time, each promise with its own result', async () => {
    const flushes: number[][] = [];
    const b = new Batcher<number, number>(async (items) => {
      flushes.push(items);
      return items.map((i) => i * 10);
    }, 3);
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => b.submit(i)));
    assert.deepEqual(results, [10, 20, 30, 40, 50]);
    assert.deepEqual(flushes, [
      [1, 2, 3],
      [4, 5],
    ]);
  });
});

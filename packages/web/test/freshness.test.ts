/**
 * Freshness and listChanges (src/freshness.ts): a conversation-list answer leaves alone what was
 * fetched or changed on its own after the list was asked for, and still replaces and drops what
 * is older than it. The orders below are the ones a reconnect can produce: the list request, a
 * `conv` event's single fetch, a command's answer, in every interleaving that matters.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Freshness, listChanges } from '../src/freshness.ts';

describe('list answers beside single fetches', () => {
  it('takes the whole list when nothing was touched meanwhile, and drops what it no longer lists', () => {
    const f = new Freshness<string>();
    f.touch('a'); // fetched long before
    const mark = f.mark();
    assert.deepEqual(listChanges(['a', 'b', 'gone'], ['a', 'b', 'new'], f, mark), { take: ['a', 'b', 'new'], drop: ['gone'], recheck: [] });
  });

  it('keeps a conversation fetched after the list was asked for (a member removed meanwhile stays removed)', () => {
    const f = new Freshness<string>();
    const mark = f.mark(); // list requested
    f.touch('g'); // `conv` event: g fetched on its own, answered first
    const r = listChanges(['g', 'h'], ['g', 'h'], f, mark);
    assert.deepEqual(r.take, ['h']);
    assert.deepEqual(r.recheck, ['g']);
  });

  it('does not bring back a conversation the user left while the list was on its way', () => {
    const f = new Freshness<string>();
    const mark = f.mark();
    f.touch('left'); // its fetch answered NOT_MEMBER: the store removed it
    const r = listChanges(['x'], ['x', 'left'], f, mark);
    assert.deepEqual(r.take, ['x']);
    assert.deepEqual(r.drop, []);
    assert.deepEqual(r.recheck, ['left']);
  });

  it('does not drop a conversation the user joined (a command answer) after the list was asked for', () => {
    const f = new Freshness<string>();
    const mark = f.mark();
    f.touch('joined'); // adopt() from a create/add answer
    const r = listChanges(['x', 'joined'], ['x'], f, mark);
    assert.deepEqual(r.drop, []);
    assert.deepEqual(r.recheck, ['joined']);
  });

  it('a second list asked for after the single fetch replaces it again', () => {
    const f = new Freshness<string>();
    const first = f.mark();
    f.touch('g');
    const second = f.mark();
    assert.deepEqual(listChanges(['g'], ['g'], f, first).take, []);
    assert.deepEqual(listChanges(['g'], ['g'], f, second).take, ['g']);
  });
});

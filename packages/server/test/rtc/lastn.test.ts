/**
 * Last-N slots go to participants who send video: a receive-only participant (or one with its
 * camera off) early in the join order does not take a slot from a camera further down.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { selectLastN } from '../../src/rtc/speaker/LastN.ts';

describe('selectLastN and participants without video', () => {
  // Join order: p0 (the subscriber), then viewers v1…v5 (no video), then cameras c1…c9.
  const participants = ['p0', 'v1', 'v2', 'v3', 'v4', 'v5', ...Array.from({ length: 9 }, (_, i) => `c${i + 1}`)];
  const videoTracks = (p: string) => (p.startsWith('c') ? [`${p}/cam`] : []);
  const audioTracks = (p: string) => [`${p}/mic`];

  it('N cameras are forwarded even when viewers joined before them', () => {
    const f = selectLastN({ subscriber: 'p0', participants, speakers: [], tiles: [], videoTracks, audioTracks }, { n: 9 });
    assert.equal(f.video.size, 9);
    assert.deepEqual([...f.video], participants.filter((p) => p.startsWith('c')).map((p) => `${p}/cam`));
  });

  it('a recent speaker without video takes no video slot; the one with video comes first', () => {
    const f = selectLastN({ subscriber: 'p0', participants, speakers: ['v3', 'c9'], tiles: [], videoTracks, audioTracks }, { n: 2 });
    assert.deepEqual([...f.video], ['c9/cam', 'c1/cam']);
    assert.deepEqual([...f.audio], ['v3/mic', 'c9/mic'], 'audio still follows the speakers');
  });
});

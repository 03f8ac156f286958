/** Audio levels (RFC 6464), the dominant-speaker detector, last-N selection and presence batching. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RtpHeader, RtpPacket, rtpHeaderExtensionsParser } from 'werift';
import { AUDIO_LEVEL_URI, audioLevelExtensionId, audioLevelFromParsed, audioLevelOf, parseAudioLevel } from '../../src/rtc/speaker/AudioLevel.ts';
import { diffSets, selectLastN } from '../../src/rtc/speaker/LastN.ts';
import { PresenceBatcher, type PresenceBatch } from '../../src/rtc/speaker/PresenceBatcher.ts';
import { SpeakerDetector } from '../../src/rtc/speaker/SpeakerDetector.ts';

describe('audio level extension', () => {
  it('parses V and the level from a packet as it comes off the wire, raw and through werift’s parser', () => {
    const header = new RtpHeader({ payloadType: 111, sequenceNumber: 1, timestamp: 960, ssrc: 5, extension: true, extensions: [{ id: 1, payload: Buffer.from([0x01]) }, { id: 3, payload: Buffer.from([0x80 | 42]) }] });
    const wire = new RtpPacket(header, Buffer.from([0xfc])).serialize();
    const packet = RtpPacket.deSerialize(wire);
    assert.deepEqual(audioLevelOf(packet, 3), { voice: true, level: 42 });
    assert.equal(audioLevelOf(packet, 7), null);
    const parsed = rtpHeaderExtensionsParser(packet.header.extensions, { 3: AUDIO_LEVEL_URI });
    assert.deepEqual(audioLevelFromParsed(parsed), { voice: true, level: 42 });
    assert.equal(audioLevelFromParsed({}), null);
    assert.deepEqual(parseAudioLevel(Buffer.from([127])), { voice: false, level: 127 });
    assert.equal(parseAudioLevel(Buffer.alloc(0)), null);
    assert.equal(audioLevelExtensionId([{ id: 2, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' }, { id: 9, uri: AUDIO_LEVEL_URI }]), 9);
  });
});

/** Feed `levels` (per participant, per 20 ms packet) for `ms`, ticking every 100 ms. */
function speak(d: SpeakerDetector<string>, levels: Record<string, number>, from: number, ms: number): number {
  let t = from;
  for (; t < from + ms; t += 20) {
    for (const [id, level] of Object.entries(levels)) d.observe(id, level);
    if ((t + 20) % 100 === 0) d.tick(t + 20);
  }
  return t;
}

describe('SpeakerDetector', () => {
  it('follows the loud participant, ignores a short burst, and does not flap between similar voices', () => {
    const d = new SpeakerDetector<string>();
    const changes: [string, string | null][] = [];
    d.on('dominant', (id, prev) => changes.push([id, prev]));
    let t = speak(d, { a: 30, b: 127, c: 127 }, 0, 2000);
    assert.deepEqual(changes, [['a', null]]);
    // c coughs for 100 ms: no change.
    t = speak(d, { a: 30, b: 127, c: 10 }, t, 100);
    t = speak(d, { a: 30, b: 127, c: 127 }, t, 1000);
    assert.equal(d.dominant, 'a');
    // b speaks about as loud as a: no flapping.
    t = speak(d, { a: 30, b: 28, c: 127 }, t, 3000);
    assert.equal(d.dominant, 'a');
    assert.equal(changes.length, 1);
    // a goes quiet, b keeps talking: b takes over.
    t = speak(d, { a: 127, b: 30, c: 127 }, t, 2000);
    assert.equal(d.dominant, 'b');
    assert.deepEqual(changes, [['a', null], ['b', 'a']]);
    // Everyone silent: b keeps the floor; history is most recent first.
    speak(d, { a: 127, b: 127, c: 127 }, t, 3000);
    assert.equal(d.dominant, 'b');
    assert.deepEqual(d.recent(), ['b', 'a', 'c']);
    assert.deepEqual(d.loudest(), []);
    d.remove('b');
    assert.equal(d.dominant, null);
  });

  it('a listener that throws is reported, not thrown into tick()', () => {
    const errors: unknown[] = [];
    const d = new SpeakerDetector<string>({}, (e) => errors.push(e));
    d.on('dominant', () => {
      throw new Error('bad listener');
    });
    speak(d, { a: 20 }, 0, 1000);
    assert.equal(errors.length, 1);
  });
});

describe('selectLastN', () => {
  const everyone = Array.from({ length: 30 }, (_, i) => `p${i}`);
  const input = (over: Partial<Parameters<typeof selectLastN<string, string>>[0]> = {}) => ({
    subscriber: 'p0',
    participants: everyone,
    speakers: ['p7', 'p0', 'p3'],
    tiles: [] as string[],
    videoTracks: (p: string) => [`${p}/cam`],
    audioTracks: (p: string) => [`${p}/mic`],
    ...over,
  });

  it('forwards video of at most N: tiles first, then recent speakers, then join order; never the subscriber', () => {
    const f = selectLastN(input({ tiles: ['p20', 'p21'] }), { n: 9 });
    assert.equal(f.video.size, 9);
    assert.deepEqual([...f.video].slice(0, 4), ['p20/cam', 'p21/cam', 'p7/cam', 'p3/cam']);
    assert.ok(!f.video.has('p0/cam'));
    assert.deepEqual([...f.audio], ['p7/mic', 'p3/mic'], 'audio of recent speakers only, not my own');
  });

  it('a small room forwards everything; screen shares come with their owner', () => {
    const f = selectLastN(input({ participants: ['p0', 'p1', 'p2'], speakers: [], videoTracks: (p) => (p === 'p2' ? ['p2/cam', 'p2/screen'] : [`${p}/cam`]) }));
    assert.deepEqual([...f.video], ['p1/cam', 'p2/cam', 'p2/screen']);
  });

  it('a departed speaker is skipped; audioN caps the audio', () => {
    const f = selectLastN(input({ speakers: ['gone', 'p1', 'p2', 'p3', 'p4'] }), { audioN: 3 });
    assert.deepEqual([...f.audio], ['p1/mic', 'p2/mic', 'p3/mic']);
  });

  it('diffSets says what to start and stop', () => {
    assert.deepEqual(diffSets(new Set(['a', 'b']), new Set(['b', 'c'])), { add: ['c'], remove: ['a'] });
  });
});

describe('PresenceBatcher', () => {
  function fake() {
    let now = 0;
    const timers: { at: number; fn: () => void }[] = [];
    return {
      options: { intervalMs: 250, now: () => now, setTimer: (fn: () => void, ms: number) => timers.push({ at: now + ms, fn }) && timers[timers.length - 1], clearTimer: (t: unknown) => void timers.splice(timers.indexOf(t as never), 1) },
      advance(ms: number) {
        now += ms;
        for (;;) {
          const due = timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at)[0];
          if (!due) break;
          timers.splice(timers.indexOf(due), 1);
          due.fn();
        }
      },
    };
  }

  it('1,000 joins in a burst become a few batches; join+leave within a batch is never announced', () => {
    const clock = fake();
    const batches: PresenceBatch<string, { id: string }>[] = [];
    const b = new PresenceBatcher<string, { id: string }>((x) => batches.push(x), clock.options);
    b.join('first', { id: 'first' });
    clock.advance(0);
    assert.equal(batches.length, 1, 'a lone join goes out at once');
    for (let i = 0; i < 1000; i++) {
      b.join(`p${i}`, { id: `p${i}` });
      if (i % 100 === 99) clock.advance(50); // the burst spreads over 500 ms
    }
    b.join('flicker', { id: 'flicker' });
    b.leave('flicker');
    b.leave('first');
    clock.advance(1000);
    assert.ok(batches.length <= 4, `${batches.length} batches`);
    const joined = batches.flatMap((x) => x.joined.map((j) => j.id));
    assert.equal(joined.length, 1001);
    assert.ok(!joined.includes('flicker'));
    assert.deepEqual(batches.flatMap((x) => x.left), ['first']);
    b.close();
    b.join('late', { id: 'late' });
    clock.advance(1000);
    assert.ok(!batches.flatMap((x) => x.joined.map((j) => j.id)).includes('late'));
  });
});

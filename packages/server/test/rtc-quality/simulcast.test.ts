/** Simulcast layer selection, pausing, VP8 keyframe detection and the bandwidth estimator: pure units. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BandwidthEstimator } from '../../src/rtc/simulcast/BandwidthEstimator.ts';
import { LayerPauser, demandedLayers } from '../../src/rtc/simulcast/LayerPauser.ts';
import { LayerSelector, type SelectorInput } from '../../src/rtc/simulcast/LayerSelector.ts';
import type { SimulcastLayer } from '../../src/rtc/simulcast/SimulcastTypes.ts';
import { isVp8Keyframe } from '../../src/rtc/simulcast/vp8.ts';

const layers = (over: Partial<Record<string, Partial<SimulcastLayer>>> = {}): SimulcastLayer[] => [
  { id: 'f', ssrc: 3, width: 1280, height: 720, bitrate: 1_500_000, live: true, ...over['f'] },
  { id: 'q', ssrc: 1, width: 320, height: 180, bitrate: 150_000, live: true, ...over['q'] },
  { id: 'h', ssrc: 2, width: 640, height: 360, bitrate: 500_000, live: true, ...over['h'] },
];
const big = { width: 1280, height: 720 };
const small = { width: 320, height: 180 };

/** Run update() and deliver the keyframe it asks for, like a publisher answering the PLI. */
function settle(s: LayerSelector, input: SelectorInput, now: number) {
  const d = s.update(input, now);
  if (d.requestKeyframe !== null) assert.equal(s.onPacket(d.requestKeyframe, true), 'switch');
  return d;
}

describe('LayerSelector', () => {
  it('picks the smallest layer covering the tile; a hidden tile gets nothing', () => {
    const s = new LayerSelector();
    assert.equal(s.update({ layers: layers(), tile: small, bandwidth: Infinity }, 0).target, 'q');
    assert.equal(s.update({ layers: layers(), tile: { width: 600, height: 340 }, bandwidth: Infinity }, 0).target, 'h');
    assert.equal(s.update({ layers: layers(), tile: { width: 1920, height: 1080 }, bandwidth: Infinity }, 0).target, 'f');
    const hidden = s.update({ layers: layers(), tile: null, bandwidth: Infinity }, 0);
    assert.deepEqual([hidden.target, hidden.current, hidden.pending], [null, null, null]);
  });

  it('waits for a keyframe on the new layer, forwarding the old one meanwhile, and asks again when none comes', () => {
    const s = new LayerSelector({ keyframeRetryMs: 1000 });
    const first = s.update({ layers: layers(), tile: small, bandwidth: Infinity }, 0);
    assert.equal(first.requestKeyframe, 'q');
    assert.equal(s.onPacket('q', false), 'drop', 'nothing before the first keyframe');
    assert.equal(s.onPacket('q', true), 'switch');
    assert.equal(s.onPacket('q', false), 'forward');
    const up = s.update({ layers: layers(), tile: big, bandwidth: Infinity }, 100);
    assert.deepEqual([up.current, up.pending, up.requestKeyframe], ['q', 'f', 'f'], 'unknown bandwidth: tile growth is immediate');
    assert.equal(s.onPacket('f', false), 'drop');
    assert.equal(s.onPacket('q', false), 'forward', 'the old layer flows until the switch');
    assert.equal(s.update({ layers: layers(), tile: big, bandwidth: Infinity }, 500).requestKeyframe, null);
    assert.equal(s.update({ layers: layers(), tile: big, bandwidth: Infinity }, 1200).requestKeyframe, 'f', 'PLI repeated');
    assert.equal(s.onPacket('h', true), 'drop', 'a keyframe of another layer is no switch point');
    assert.equal(s.onPacket('f', true), 'switch');
    assert.equal(s.onPacket('q', false), 'drop');
    assert.equal(s.switches, 2);
  });

  it('goes down at once when bandwidth drops, and back up only after the estimate held for upHoldMs', () => {
    const s = new LayerSelector({ upHoldMs: 4000 });
    settle(s, { layers: layers(), tile: big, bandwidth: 3_000_000 }, 0);
    assert.equal(s.currentLayer, 'f');
    const down = settle(s, { layers: layers(), tile: big, bandwidth: 700_000 }, 1000);
    assert.equal(down.pending, 'h', 'down without delay');
    assert.equal(s.currentLayer, 'h');
    // The estimate recovers; the selector holds h until it has covered f for 4 s.
    assert.equal(s.update({ layers: layers(), tile: big, bandwidth: 3_000_000 }, 2000).pending, null);
    assert.equal(s.update({ layers: layers(), tile: big, bandwidth: 3_000_000 }, 5000).target, 'f');
    assert.equal(s.currentLayer, 'h');
    // A dip restarts the hold.
    s.update({ layers: layers(), tile: big, bandwidth: 1_000_000 }, 5500);
    assert.equal(s.update({ layers: layers(), tile: big, bandwidth: 3_000_000 }, 6100).pending, null);
    assert.equal(s.update({ layers: layers(), tile: big, bandwidth: 3_000_000 }, 9000).pending, null);
    const up = s.update({ layers: layers(), tile: big, bandwidth: 3_000_000 }, 10_100);
    assert.deepEqual([up.pending, up.requestKeyframe], ['f', 'f']);
  });

  it('is idle once hidden (its owner may skip it), starts straight at the target when shown, and holds upswitches anew', () => {
    const s = new LayerSelector({ upHoldMs: 4000 });
    assert.equal(s.idle, true, 'nothing chosen yet');
    settle(s, { layers: layers(), tile: big, bandwidth: 3_000_000 }, 0);
    assert.equal(s.idle, false);
    const hidden = s.update({ layers: layers(), tile: null, bandwidth: 3_000_000 }, 1000);
    assert.deepEqual([hidden.current, hidden.pending, s.idle], [null, null, true]);
    // Shown again, small: q at once (a start from nothing is not held).
    const shown = settle(s, { layers: layers(), tile: small, bandwidth: 3_000_000 }, 9000);
    assert.deepEqual([shown.pending, s.currentLayer], ['q', 'q']);
    // Then large: f fitted the estimate before and while the tile was hidden, but the selector
    // did not watch it then, so the upswitch waits for a hold counted from when it showed again.
    assert.equal(s.update({ layers: layers(), tile: big, bandwidth: 3_000_000 }, 9100).pending, null);
    assert.equal(s.update({ layers: layers(), tile: big, bandwidth: 3_000_000 }, 12_900).pending, null);
    assert.equal(s.update({ layers: layers(), tile: big, bandwidth: 3_000_000 }, 13_000).pending, 'f');
  });

  it('sends the smallest layer when nothing fits, and says so', () => {
    const s = new LayerSelector();
    const d = settle(s, { layers: layers(), tile: big, bandwidth: 100_000 }, 0);
    assert.equal(d.target, 'q');
    assert.equal(d.starved, true);
    assert.equal(s.currentLayer, 'q');
  });

  it('skips layers that do not arrive, uses paused ones, and budgets unmeasured layers at a nominal rate', () => {
    const s = new LayerSelector();
    const absent = layers({ f: { live: false } });
    assert.equal(s.update({ layers: absent, tile: big, bandwidth: Infinity }, 0).target, 'h');
    const paused = layers({ f: { live: false, paused: true } });
    assert.equal(s.update({ layers: paused, tile: big, bandwidth: Infinity }, 0).target, 'f');
    const unmeasured = layers({ f: { bitrate: 0 }, h: { bitrate: 0 } });
    assert.equal(new LayerSelector().update({ layers: unmeasured, tile: big, bandwidth: 1_000_000 }, 0).target, 'h', 'nominal 720p is 1.5 Mbit/s');
  });

  it('a single-layer track is just forwarded from its first keyframe', () => {
    const s = new LayerSelector();
    const one = [{ id: '', ssrc: 9, width: 640, height: 360, bitrate: 0, live: true }];
    settle(s, { layers: one, tile: big, bandwidth: 200_000 }, 0);
    assert.equal(s.onPacket('', false), 'forward');
  });
});

describe('LayerPauser', () => {
  it('pauses a layer unused for pauseAfterMs, never the smallest, resumes on demand at once', () => {
    const p = new LayerPauser(['q', 'h', 'f'], { pauseAfterMs: 5000 });
    assert.deepEqual(p.update(new Set(['h']), 0), { pause: [], resume: [] });
    assert.deepEqual(p.update(new Set(['h']), 4999), { pause: [], resume: [] });
    assert.deepEqual(p.update(new Set(['h']), 5000), { pause: ['f'], resume: [] });
    assert.ok(p.isPaused('f') && !p.isPaused('q'));
    assert.deepEqual(p.update(new Set(['f']), 6000), { pause: [], resume: ['f'] });
    assert.deepEqual(p.update(new Set(['f']), 12_000), { pause: ['h'], resume: [] });
  });

  it('demand is every selector’s current and pending layer', () => {
    const a = new LayerSelector();
    const b = new LayerSelector();
    settle(a, { layers: layers(), tile: small, bandwidth: Infinity }, 0);
    b.update({ layers: layers(), tile: big, bandwidth: Infinity }, 0);
    assert.deepEqual([...demandedLayers([a, b])].sort(), ['f', 'q']);
  });
});

describe('isVp8Keyframe', () => {
  it('reads the payload descriptor and the P bit', () => {
    assert.equal(isVp8Keyframe(Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a])), true, 'S=1 PID=0, P=0');
    assert.equal(isVp8Keyframe(Buffer.from([0x10, 0x01])), false, 'P=1: interframe');
    assert.equal(isVp8Keyframe(Buffer.from([0x00, 0x00])), false, 'not the start of a partition');
    // X=1, I=1 with a 15-bit picture id (M), L=1, T=1: the header starts at byte 6.
    assert.equal(isVp8Keyframe(Buffer.from([0x90, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x00])), true);
    assert.equal(isVp8Keyframe(Buffer.from([0x90, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x01])), false);
    assert.equal(isVp8Keyframe(Buffer.from([0x90, 0x80])), false, 'truncated');
    assert.equal(isVp8Keyframe(Buffer.alloc(0)), false);
  });
});

describe('BandwidthEstimator', () => {
  /** Simulate a path of `capacity` bit/s carrying `rate` bit/s of 1200-byte packets, feedback every 100 ms. */
  function drive(e: BandwidthEstimator, from: number, ms: number, rate: number, capacity: number, state: { seq: number; queueFreeAt: number }) {
    const size = 1200;
    const gap = (size * 8 * 1000) / rate;
    let batch: { sequenceNumber: number; received: boolean; receivedAtMs: number }[] = [];
    let nextFeedback = from + 100;
    for (let t = from; t < from + ms; t += gap) {
      const seq = state.seq++ & 0xffff;
      e.packetSent({ wideSeq: seq, size, sentAtMs: t });
      // A bottleneck queue: each packet takes size/capacity to drain; 5 ms propagation.
      const start = Math.max(t, state.queueFreeAt);
      state.queueFreeAt = start + (size * 8 * 1000) / capacity;
      batch.push({ sequenceNumber: seq, received: true, receivedAtMs: state.queueFreeAt + 5 + 1e6 /* clock offset */ });
      if (t >= nextFeedback) {
        e.feedback(batch, t);
        batch = [];
        nextFeedback += 100;
      }
    }
  }

  it('grows while the path keeps up, and backs off to below capacity when the queue builds', () => {
    const e = new BandwidthEstimator({ initialBps: 500_000 });
    const st = { seq: 0, queueFreeAt: 0 };
    drive(e, 0, 5000, 400_000, 10_000_000, st);
    assert.ok(e.estimate > 600_000, `grew to ${e.estimate}`);
    // Send 2 Mbit/s into a 1 Mbit/s path: the queue grows, the estimate follows the acked rate down.
    drive(e, 5000, 2000, 2_000_000, 1_000_000, st);
    assert.ok(e.overuses > 0);
    assert.ok(e.estimate < 1_000_000, `backed off to ${e.estimate}`);
  });

  it('backs off on heavy loss, and a REMB caps the estimate', () => {
    const e = new BandwidthEstimator({ initialBps: 2_000_000 });
    for (let s = 0; s < 10; s++) e.packetSent({ wideSeq: s, size: 1000, sentAtMs: s });
    e.feedback(
      Array.from({ length: 10 }, (_, s) => ({ sequenceNumber: s, received: s % 2 === 0, receivedAtMs: s + 10 })),
      20,
    );
    assert.equal(e.lastLoss, 0.5);
    assert.equal(e.estimate, 1_500_000);
    e.remb(300_000n);
    assert.equal(e.estimate, 300_000);
  });

  it('ignores feedback about packets it did not send', () => {
    const e = new BandwidthEstimator({ initialBps: 1_000_000 });
    e.feedback([{ sequenceNumber: 7, received: false, receivedAtMs: 0 }], 100);
    assert.equal(e.estimate, 1_000_000);
  });
});

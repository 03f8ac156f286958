import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RtpRewriter, seqDiff } from '../../src/rtc/forward/RtpRewriter.ts';

function rewriter(now = { t: 0 }) {
  return new RtpRewriter({ ssrc: 0xabcdef01, clockRate: 90000, initialSeq: 1000, initialTimestamp: 5000, now: () => now.t });
}
const pkt = (seq: number, ts: number, ssrc = 1) => ({ ssrc, sequenceNumber: seq & 0xffff, timestamp: ts >>> 0 });

describe('RtpRewriter', () => {
  it('maps a stream onto its own SSRC, sequence and timestamp base, keeping the deltas', () => {
    const r = rewriter();
    const out = [pkt(40000, 100), pkt(40001, 3100), pkt(40002, 6100)].map((p) => r.rewrite(p));
    assert.deepEqual(
      out.map((o) => [o?.ssrc, o?.sequenceNumber, o?.timestamp]),
      [
        [0xabcdef01, 1000, 5000],
        [0xabcdef01, 1001, 8000],
        [0xabcdef01, 1002, 11000],
      ],
    );
  });

  it('wraps sequence numbers and timestamps', () => {
    const r = new RtpRewriter({ ssrc: 7, clockRate: 48000, initialSeq: 0xfffe, initialTimestamp: 0xffffff00 });
    const seqs = [10, 11, 12, 13].map((s, i) => r.rewrite(pkt(s, 960 * i))!);
    assert.deepEqual(seqs.map((o) => o.sequenceNumber), [0xfffe, 0xffff, 0, 1]);
    assert.deepEqual(seqs.map((o) => o.timestamp), [0, 960, 1920, 2880].map((d) => (0xffffff00 + d) % 2 ** 32));
    // Input wrapping is continuous as well.
    const w = rewriter();
    const outs = [0xfffe, 0xffff, 0, 1].map((s) => w.rewrite(pkt(s, 0))!.sequenceNumber);
    assert.deepEqual(outs, [1000, 1001, 1002, 1003]);
    assert.equal(seqDiff(1, 0xffff), 2);
    assert.equal(seqDiff(0xffff, 1), -2);
  });

  it('keeps upstream loss as a gap and forwards late packets in place', () => {
    const r = rewriter();
    r.rewrite(pkt(10, 0));
    assert.equal(r.rewrite(pkt(13, 0))?.sequenceNumber, 1003);
    assert.equal(r.rewrite(pkt(11, 0))?.sequenceNumber, 1001, 'a late packet fills its own hole');
    assert.equal(r.rewrite(pkt(14, 0))?.sequenceNumber, 1004);
  });

  it('closes the gap over packets the SFU skips on purpose', () => {
    const r = rewriter();
    r.rewrite(pkt(10, 0));
    r.skip(pkt(11, 0));
    r.skip(pkt(12, 0));
    assert.equal(r.rewrite(pkt(13, 0))?.sequenceNumber, 1001);
    assert.equal(r.rewrite(pkt(11, 0)), null, 'a late copy of a skipped packet is not sent');
    // Loss before a skip stays loss.
    r.rewrite(pkt(14, 0));
    r.skip(pkt(17, 0)); // 15 and 16 lost upstream
    assert.equal(r.rewrite(pkt(18, 0))?.sequenceNumber, 1005);
  });

  it('continues without a break across a new source, advancing the timestamp by wall time', () => {
    const now = { t: 1000 };
    const r = rewriter(now);
    r.rewrite(pkt(500, 90000, 1));
    r.rewrite(pkt(501, 93000, 1));
    now.t += 100; // 100 ms later another source (a layer switch) continues the stream
    const o = r.rewrite(pkt(7, 123456, 2))!;
    assert.equal(o.sequenceNumber, 1002);
    assert.equal(o.timestamp, 5000 + 3000 + 9000);
    assert.equal(r.rewrite(pkt(8, 126456, 2))?.sequenceNumber, 1003);
    assert.equal(r.rewrite(pkt(502, 96000, 1))?.sequenceNumber, 1004, 'the old source switching back is again a new mapping');
  });

  it('resyncs after a pause (mute) with no sequence gap', () => {
    const now = { t: 0 };
    const r = new RtpRewriter({ ssrc: 9, clockRate: 48000, initialSeq: 1, initialTimestamp: 0, now: () => now.t });
    for (let i = 0; i < 5; i++) {
      r.rewrite(pkt(100 + i, 960 * i));
      now.t += 20;
    }
    r.resync();
    now.t += 2000; // muted for two seconds: 100 packets were dropped upstream of the rewriter
    const o = r.rewrite(pkt(205, 960 * 105))!;
    assert.equal(o.sequenceNumber, 6);
    assert.equal(o.timestamp, 960 * 4 + (2020 * 48000) / 1000);
  });

  it('treats a sequence far behind as a restarted source', () => {
    const r = rewriter();
    r.rewrite(pkt(30000, 0));
    assert.equal(r.rewrite(pkt(5, 0))?.sequenceNumber, 1001);
    assert.equal(r.rewrite(pkt(6, 0))?.sequenceNumber, 1002);
  });
});

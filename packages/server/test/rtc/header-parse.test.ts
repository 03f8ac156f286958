/**
 * parseRtpHeader and parseRtcpHeader (rtc/forward/HeaderParse.ts) against werift's own
 * deSerialize: the same fields for generated packets (CSRCs, padding, one-byte and two-byte
 * extensions with padding bytes between them, werift's stop at id 15, another profile; every RTCP
 * first byte), the same refusal of truncated headers, and werift parsing through them once
 * installed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RtcpHeader, RtcpPacketConverter, RtcpRrPacket, RtcpReceiverInfo, RtpHeader, RtpPacket } from 'werift';
import { installFastHeaderParse, parseRtcpHeader, parseRtpHeader } from '../../src/rtc/forward/HeaderParse.ts';

/** werift's own parsers, kept before anything installs ours. */
const theirs = RtpHeader.deSerialize.bind(RtpHeader);
const theirsRtcp = RtcpHeader.deSerialize.bind(RtcpHeader);

interface Ext {
  id: number;
  len: number;
}

/** A packet: fixed header, CSRCs, an extension block of `profile` with `exts` (and zero bytes between), payload, padding. */
function packet(o: { cc?: number; profile?: number; exts?: Ext[]; gaps?: number; payload?: number; padding?: number; marker?: boolean; pt?: number }): Buffer {
  const cc = o.cc ?? 0;
  const parts: Buffer[] = [];
  const fixed = Buffer.alloc(12 + cc * 4);
  const hasExt = o.profile !== undefined;
  fixed[0] = 0x80 | (o.padding ? 0x20 : 0) | (hasExt ? 0x10 : 0) | cc;
  fixed[1] = (o.marker ? 0x80 : 0) | ((o.pt ?? 96) & 0x7f);
  fixed.writeUInt16BE(Math.floor(Math.random() * 0x10000), 2);
  fixed.writeUInt32BE(Math.floor(Math.random() * 0x1_0000_0000), 4);
  fixed.writeUInt32BE(Math.floor(Math.random() * 0x1_0000_0000), 8);
  for (let i = 0; i < cc; i++) fixed.writeUInt32BE(Math.floor(Math.random() * 0x1_0000_0000), 12 + i * 4);
  parts.push(fixed);
  if (hasExt) {
    const body: Buffer[] = [];
    for (const e of o.exts ?? []) {
      if (o.profile === 0xbede) body.push(Buffer.from([(e.id << 4) | (e.len - 1)]), randomBytes(e.len));
      else if (o.profile === 0x1000) body.push(Buffer.from([e.id, e.len]), randomBytes(e.len));
      else body.push(randomBytes(e.len));
      if (o.gaps) body.push(Buffer.alloc(o.gaps));
    }
    let block = Buffer.concat(body);
    block = Buffer.concat([block, Buffer.alloc((4 - (block.length % 4)) % 4)]);
    const head = Buffer.alloc(4);
    head.writeUInt16BE(o.profile!, 0);
    head.writeUInt16BE(block.length / 4, 2);
    parts.push(head, block);
  }
  parts.push(randomBytes(o.payload ?? 100));
  if (o.padding) {
    const pad = Buffer.alloc(o.padding);
    pad[o.padding - 1] = o.padding;
    parts.push(pad);
  }
  return Buffer.concat(parts);
}

function fields(h: RtpHeader) {
  return {
    version: h.version,
    padding: h.padding,
    paddingSize: h.paddingSize,
    extension: h.extension,
    marker: h.marker,
    payloadOffset: h.payloadOffset,
    payloadType: h.payloadType,
    sequenceNumber: h.sequenceNumber,
    timestamp: h.timestamp,
    ssrc: h.ssrc,
    csrcLength: h.csrcLength,
    csrc: [...h.csrc],
    extensionProfile: h.extensionProfile,
    extensionLength: h.extensionLength,
    extensions: h.extensions.map((e) => ({ id: e.id, payload: Buffer.from(e.payload).toString('hex'), at: e.payload.byteOffset })),
  };
}

function same(raw: Buffer): void {
  const ours = parseRtpHeader(raw);
  assert.ok(ours instanceof RtpHeader);
  assert.deepEqual(fields(ours), fields(theirs(raw)));
}

const random = (n: number) => Math.floor(Math.random() * n);

describe('header parsing', () => {
  it('reads what werift reads from a plain header, with CSRCs, marker and padding', () => {
    same(packet({}));
    same(packet({ cc: 3, marker: true, pt: 111 }));
    same(packet({ cc: 15, padding: 7, payload: 20 }));
    const h = parseRtpHeader(packet({ cc: 2, padding: 4, marker: true, pt: 100 }));
    assert.equal(h.payloadOffset, 20);
    assert.equal(h.paddingSize, 4);
    assert.equal(h.marker, true);
    assert.equal(h.payloadType, 100);
  });

  it('reads one-byte extensions (mid, transport-cc, abs-send-time, audio level) as werift does, with zero bytes between', () => {
    const exts = [
      { id: 1, len: 1 },
      { id: 3, len: 2 },
      { id: 4, len: 3 },
      { id: 9, len: 16 },
    ];
    same(packet({ profile: 0xbede, exts }));
    same(packet({ profile: 0xbede, exts, gaps: 2, cc: 1 }));
    const h = parseRtpHeader(packet({ profile: 0xbede, exts: [{ id: 3, len: 2 }] }));
    assert.deepEqual(
      h.extensions.map((e) => [e.id, e.payload.length]),
      [[3, 2]],
    );
    assert.equal(h.payloadOffset, 12 + 4 + 4);
  });

  it('stops at a one-byte id of 15 where werift stops', () => {
    same(packet({ profile: 0xbede, exts: [{ id: 2, len: 1 }, { id: 15, len: 1 }, { id: 5, len: 2 }] }));
  });

  it('reads two-byte extensions and other profiles as werift does', () => {
    same(packet({ profile: 0x1000, exts: [{ id: 1, len: 0 }, { id: 200, len: 17 }, { id: 3, len: 2 }], gaps: 1 }));
    same(packet({ profile: 0xabcd, exts: [{ id: 0, len: 8 }] }));
  });

  it('agrees with werift on 2,000 random packets', () => {
    for (let n = 0; n < 2000; n++) {
      const profile = [undefined, 0xbede, 0x1000, 0x1234][random(4)];
      const exts = Array.from({ length: random(5) }, () => (profile === 0xbede ? { id: 1 + random(14), len: 1 + random(16) } : { id: 1 + random(255), len: random(20) }));
      same(packet({ cc: random(16), profile, exts, gaps: random(3), payload: random(1200), padding: random(2) ? 1 + random(255) : 0, marker: random(2) === 1, pt: random(128) }));
    }
  });

  it('refuses a header cut short, as werift does', () => {
    for (const raw of [Buffer.alloc(0), Buffer.alloc(11), packet({ cc: 4, payload: 0 }).subarray(0, 20), packet({ profile: 0xbede, exts: [], payload: 0 }).subarray(0, 14)]) {
      assert.throws(() => theirs(raw));
      assert.throws(() => parseRtpHeader(raw), RangeError);
    }
  });

  it('reads every RTCP first byte, type and length as werift does, and refuses fewer than four bytes', () => {
    for (let b0 = 0; b0 < 256; b0++) {
      const raw = Buffer.from([b0, 192 + random(32), random(256), random(256), 1, 2]);
      const ours = parseRtcpHeader(raw);
      assert.ok(ours instanceof RtcpHeader);
      const w = theirsRtcp(raw);
      assert.deepEqual([ours.version, ours.padding, ours.count, ours.type, ours.length], [w.version, w.padding, w.count, w.type, w.length]);
    }
    const rr = parseRtcpHeader(Buffer.from([0x81, 201, 0, 7]));
    assert.deepEqual([rr.version, rr.padding, rr.count, rr.type, rr.length], [2, false, 1, 201, 7]);
    for (const raw of [Buffer.alloc(0), Buffer.alloc(3)]) {
      assert.throws(() => theirsRtcp(raw));
      assert.throws(() => parseRtcpHeader(raw), RangeError);
    }
  });

  it('is what werift parses with once installed', () => {
    installFastHeaderParse();
    installFastHeaderParse();
    assert.equal(RtpHeader.deSerialize, parseRtpHeader);
    assert.equal(RtcpHeader.deSerialize, parseRtcpHeader);
    const report = new RtcpRrPacket({ ssrc: 7, reports: [new RtcpReceiverInfo({ ssrc: 9, fractionLost: 1, packetsLost: 2, highestSequence: 3, jitter: 4, lsr: 5, dlsr: 6 })] });
    const [back] = RtcpPacketConverter.deSerialize(report.serialize()) as RtcpRrPacket[];
    assert.equal(back?.ssrc, 7);
    assert.equal(back?.reports[0]?.highestSequence, 3);
    const raw = packet({ profile: 0xbede, exts: [{ id: 3, len: 2 }], payload: 50, padding: 3 });
    const p = RtpPacket.deSerialize(raw);
    assert.equal(p.payload.length, 50);
    assert.deepEqual(fields(p.header), fields(theirs(raw)));
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RtpHeader, RtpPacket, SrtpSession } from 'werift';
import { SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_HMAC_SHA1_80, SrtpEncryptor, SrtpIndex } from '../../src/rtc/forward/SrtpEncryptor.ts';

interface Ctx {
  srtpSessionKey: Buffer;
  srtpSessionSalt: Buffer;
  srtpSessionAuthTag: Buffer;
}

/** A sending session (ours) and werift's receiving end of the same keys. */
function pair(profile: number, aheadSsrc = -1) {
  const saltLen = profile === SRTP_AES128_CM_HMAC_SHA1_80 ? 14 : 12;
  const a = { key: randomBytes(16), salt: randomBytes(saltLen) };
  const b = { key: randomBytes(16), salt: randomBytes(saltLen) };
  const config = (local: typeof a, remote: typeof a) => ({ keys: { localMasterKey: local.key, localMasterSalt: local.salt, remoteMasterKey: remote.key, remoteMasterSalt: remote.salt }, profile: profile as 1 });
  const sender = new SrtpSession(config(a, b));
  const receiver = new SrtpSession(config(b, a));
  const ctx = (sender as unknown as { localContext: Ctx }).localContext;
  const ours = new SrtpEncryptor({ profile, key: ctx.srtpSessionKey, salt: ctx.srtpSessionSalt, authKey: ctx.srtpSessionAuthTag }, aheadSsrc);
  return { sender, receiver, ours };
}

function header(seq: number, extensions = true): RtpHeader {
  return new RtpHeader({
    payloadType: 96,
    sequenceNumber: seq,
    timestamp: 123456789,
    ssrc: 0xdeadbeef,
    marker: true,
    extensions: extensions
      ? [
          { id: 1, payload: Buffer.from('3') },
          { id: 3, payload: Buffer.from([0x12, 0x34]) },
        ]
      : [],
  });
}

for (const [name, profile] of [
  ['AES_CM_128_HMAC_SHA1_80', SRTP_AES128_CM_HMAC_SHA1_80],
  ['AEAD_AES_128_GCM', SRTP_AEAD_AES_128_GCM],
] as const) {
  describe(`SrtpEncryptor ${name}`, () => {
    it('produces the bytes werift produces and werift decrypts them', () => {
      const { sender, receiver, ours } = pair(profile);
      const index = new SrtpIndex();
      for (const [i, size] of [0, 1, 15, 16, 17, 1000, 1200, 2100].entries()) {
        const payload = randomBytes(size);
        const h = header(40000 + i, i % 2 === 0);
        const raw = h.serialize(h.serializeSize);
        const mine = ours.protect(raw, raw.length, -1, payload, h.ssrc, index.rocFor(h.sequenceNumber), h.sequenceNumber);
        const theirs = sender.encrypt(payload, h);
        assert.deepEqual(mine, theirs, `payload of ${size} bytes`);
        const back = RtpPacket.deSerialize(receiver.decrypt(mine));
        assert.deepEqual(back.payload, payload);
        assert.equal(back.header.sequenceNumber, h.sequenceNumber);
      }
    });

    it('keeps the rollover counter across the sequence wrap, as werift does', () => {
      const { sender, receiver, ours } = pair(profile);
      const index = new SrtpIndex();
      for (const seq of [65533, 65534, 65535, 0, 1, 2]) {
        const payload = randomBytes(300);
        const h = header(seq);
        const raw = h.serialize(h.serializeSize);
        const mine = ours.protect(raw, raw.length, -1, payload, h.ssrc, index.rocFor(seq), seq);
        assert.deepEqual(mine, sender.encrypt(payload, h), `seq ${seq}`);
        assert.deepEqual(RtpPacket.deSerialize(receiver.decrypt(mine)).payload, payload);
      }
    });

    it('puts an RTX prefix (original sequence number) before the payload', () => {
      const { receiver, ours } = pair(profile);
      const payload = randomBytes(500);
      const h = header(7);
      const raw = h.serialize(h.serializeSize);
      const enc = ours.protect(raw, raw.length, 0xbeef, payload, h.ssrc, 0, 7);
      const back = RtpPacket.deSerialize(receiver.decrypt(enc));
      assert.equal(back.payload.readUInt16BE(0), 0xbeef);
      assert.deepEqual(back.payload.subarray(2), payload);
    });
  });
}

describe('SrtpEncryptor AES-CM with keystreams made ahead (CmKeystream)', () => {
  const SSRC = 0xdeadbeef;
  /** Each [seq, payload size] in order, through the ahead path, against werift's bytes. */
  function check(steps: [number, number][], ssrc = SSRC): void {
    const { sender, receiver, ours } = pair(SRTP_AES128_CM_HMAC_SHA1_80, SSRC);
    const index = new SrtpIndex();
    for (const [seq, size] of steps) {
      const payload = randomBytes(size);
      const h = new RtpHeader({ ...header(seq), ssrc });
      const raw = h.serialize(h.serializeSize);
      const mine = ours.protect(raw, raw.length, -1, payload, ssrc, index.rocFor(seq), seq);
      assert.deepEqual(mine, sender.encrypt(payload, h), `seq ${seq}, ${size} bytes`);
      assert.deepEqual(RtpPacket.deSerialize(receiver.decrypt(mine)).payload, payload);
    }
  }

  it('serves consecutive packets, across several batches and the sequence wrap', () => {
    const steps: [number, number][] = [];
    for (let i = 0; i < 60; i++) steps.push([(65520 + i) & 0xffff, 1000 + (i % 3) * 100]);
    check(steps);
  });

  it('handles a wider packet inside a batch, an older index, a jump ahead, and packets past the ahead limit', () => {
    check([
      [100, 200],
      [101, 200],
      [102, 1200], // wider than the batch was made for
      [103, 1200],
      [101, 200], // a retransmission (no RTX): behind the batch
      [104, 1000],
      [400, 1000], // a jump past the batch
      [401, 1300], // wider than anything served ahead
      [402, 1000],
      [403, 0],
      [10, 1000], // the numbering started over, far behind the batch
      [11, 1000],
    ]);
  });

  it('gives another SSRC (RTX) its own keystream without disturbing the batch', () => {
    const { sender, receiver, ours } = pair(SRTP_AES128_CM_HMAC_SHA1_80, SSRC);
    const main = new SrtpIndex();
    for (let seq = 10; seq < 30; seq++) {
      const ssrc = seq % 4 === 0 ? 0x1234 : SSRC;
      const payload = randomBytes(900);
      const h = new RtpHeader({ ...header(seq), ssrc });
      const raw = h.serialize(h.serializeSize);
      const roc = ssrc === SSRC ? main.rocFor(seq) : 0;
      const mine = ours.protect(raw, raw.length, -1, payload, ssrc, roc, seq);
      assert.deepEqual(mine, sender.encrypt(payload, h), `seq ${seq} ssrc ${ssrc}`);
      assert.deepEqual(RtpPacket.deSerialize(receiver.decrypt(mine)).payload, payload);
    }
  });

  it('fans one payload out to several encryptors, payloads at different offsets of one memory, output memory reused', () => {
    // As the SFU forwards: each packet's payload goes to every subscriber's encryptor in turn,
    // each result recycled after a (synchronous) send; the payloads are views into one slab.
    const subs = [0, 1, 2].map(() => ({ ...pair(SRTP_AES128_CM_HMAC_SHA1_80, SSRC), index: new SrtpIndex() }));
    const slab = randomBytes(8192);
    for (let seq = 100; seq < 140; seq++) {
      const at = ((seq * 1012) % 7000) & ~3; // 4-byte aligned, different each time
      const payload = slab.subarray(at, at + 900 + (seq % 3) * 4);
      const h = new RtpHeader({ ...header(seq), ssrc: SSRC });
      const raw = h.serialize(h.serializeSize);
      for (const [n, s] of subs.entries()) {
        const mine = s.ours.protect(raw, raw.length, -1, payload, SSRC, s.index.rocFor(seq), seq);
        assert.deepEqual(mine, s.sender.encrypt(payload, h), `seq ${seq} subscriber ${n}`);
        assert.deepEqual(RtpPacket.deSerialize(s.receiver.decrypt(mine)).payload, payload);
        s.ours.recycle();
      }
      slab.fill(seq & 0xff, at, at + 16); // the memory changes between packets; views must not hold stale bytes
    }
  });
});

describe('SrtpIndex', () => {
  it('counts wraps forward and gives an older packet the counter it was sent with', () => {
    const i = new SrtpIndex();
    assert.equal(i.rocFor(65000), 0);
    assert.equal(i.rocFor(65535), 0);
    assert.equal(i.rocFor(3), 1);
    assert.equal(i.rocFor(65500), 0, 'a retransmission from before the wrap');
    assert.equal(i.rocFor(2), 1);
    assert.equal(i.rocFor(4), 1);
  });

  it('rejects an unknown profile', () => {
    assert.throws(() => new SrtpEncryptor({ profile: 2, key: Buffer.alloc(16), salt: Buffer.alloc(14), authKey: Buffer.alloc(20) }), RangeError);
  });
});

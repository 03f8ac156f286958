/**
 * CmDecryptor (rtc/forward/SrtpDecryptor.ts) against werift: what werift's SRTP and SRTCP
 * sessions encrypt, ours decrypts to the same bytes werift's own cipher gets (across a sequence
 * number rollover, with padding, with the E flag off), and anything tampered with is refused with
 * werift's SrtpAuthenticationError. Then two werift peer connections with the decryptors
 * installed: media and RTCP arrive, through ours.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RTCPeerConnection, RtcpPacketConverter, RtcpSrPacket, RtpHeader, RtpPacket, SrtcpSession, SrtpAuthenticationError, SrtpSession } from 'werift';
import { fastSrtpStats, installFastSrtpDecrypt, useFastSrtpDecrypt } from '../../src/rtc/forward/SrtpDecryptor.ts';
import { SRTP_AES128_CM_HMAC_SHA1_80 } from '../../src/rtc/forward/SrtpEncryptor.ts';
import { loopbackPeer, until } from './bot.ts';
import { connectPair } from './pair.ts';

function sessions() {
  const a = { key: randomBytes(16), salt: randomBytes(14) };
  const b = { key: randomBytes(16), salt: randomBytes(14) };
  const cfg = (local: typeof a, remote: typeof a) => ({
    keys: { localMasterKey: local.key, localMasterSalt: local.salt, remoteMasterKey: remote.key, remoteMasterSalt: remote.salt },
    profile: SRTP_AES128_CM_HMAC_SHA1_80,
  });
  const make = () => ({ srtp: new SrtpSession(cfg(b, a) as never), srtcp: new SrtcpSession(cfg(b, a) as never) });
  const sender = { srtp: new SrtpSession(cfg(a, b) as never), srtcp: new SrtcpSession(cfg(a, b) as never) };
  const theirs = make();
  const ours = make();
  assert.equal(useFastSrtpDecrypt(ours as never), true);
  return { sender, theirs, ours };
}

const rtp = (seq: number, ssrc: number, payload: Buffer, padding = 0) => {
  const header = new RtpHeader({ sequenceNumber: seq, timestamp: seq * 3000, ssrc, payloadType: 96, marker: seq % 3 === 0, padding: padding > 0 });
  const body = padding > 0 ? Buffer.concat([payload, Buffer.alloc(padding - 1), Buffer.from([padding])]) : payload;
  return { header, body };
};

describe('CmDecryptor', () => {
  it('decrypts what werift encrypts, as werift does, across a rollover and with padding', () => {
    const { sender, theirs, ours } = sessions();
    const before = fastSrtpStats.rtp;
    let n = 0;
    for (const ssrc of [0x11111111, 0xfedcba98]) {
      for (let i = 0; i < 40; i++) {
        const seq = (65520 + i) & 0xffff;
        const payload = randomBytes(1 + ((i * 97) % 1200));
        const { header, body } = rtp(seq, ssrc, payload, i % 7 === 3 ? 4 : 0);
        const enc = sender.srtp.encrypt(body, header);
        const a = theirs.srtp.decrypt(enc);
        const b = ours.srtp.decrypt(enc);
        assert.deepEqual(b, a, `packet ${ssrc.toString(16)}/${seq}`);
        const p = RtpPacket.deSerialize(b);
        assert.deepEqual(p.payload.subarray(0, payload.length), payload);
        n += 1;
      }
    }
    assert.equal(fastSrtpStats.rtp - before, n, 'every packet went through ours');
  });

  it('decrypts SRTCP compounds as werift does, with the E flag on and off', () => {
    const { sender, theirs, ours } = sessions();
    const before = fastSrtpStats.rtcp;
    for (let i = 0; i < 20; i++) {
      const raw = new RtcpSrPacket({ ssrc: 0x22222222, senderInfo: { serialize: () => Buffer.alloc(20, i) } as never }).serialize();
      const enc = sender.srtcp.encrypt(raw);
      assert.deepEqual(ours.srtcp.decrypt(enc), theirs.srtcp.decrypt(enc));
      assert.deepEqual(ours.srtcp.decrypt(enc), raw);
    }
    // Unencrypted SRTCP (E = 0): authenticated only.
    const raw = Buffer.from(new RtcpSrPacket({ ssrc: 7, senderInfo: { serialize: () => Buffer.alloc(20, 9) } as never }).serialize());
    const enc = sender.srtcp.encrypt(raw);
    const clear = Buffer.concat([raw, enc.subarray(raw.length, raw.length + 4)]);
    clear[raw.length] = clear[raw.length]! & 0x7f;
    // Re-tag the E = 0 packet with werift's own tag function, so only the flag differs.
    const cipher = (sender.srtcp.localContext as unknown as { cipher: { generateSrtcpAuthTag(b: Buffer): Buffer } }).cipher;
    const e0 = Buffer.concat([clear, cipher.generateSrtcpAuthTag(clear)]);
    assert.deepEqual(ours.srtcp.decrypt(e0), raw);
    assert.equal(RtcpPacketConverter.deSerialize(ours.srtcp.decrypt(e0))[0]!.type, 200);
    assert.ok(fastSrtpStats.rtcp - before >= 21);
  });

  it('refuses a tampered or truncated packet with SrtpAuthenticationError', () => {
    const { sender, ours } = sessions();
    const { header, body } = rtp(100, 5, randomBytes(300));
    const enc = sender.srtp.encrypt(body, header);
    for (const at of [1, 20, enc.length - 11, enc.length - 1]) {
      const bad = Buffer.from(enc);
      bad[at]! ^= 0x40;
      assert.throws(() => ours.srtp.decrypt(bad), SrtpAuthenticationError, `byte ${at}`);
    }
    const rtcp = sender.srtcp.encrypt(Buffer.from(new RtcpSrPacket({ ssrc: 3, senderInfo: { serialize: () => Buffer.alloc(20) } as never }).serialize()));
    const bad = Buffer.from(rtcp);
    bad[10]! ^= 1;
    assert.throws(() => ours.srtcp.decrypt(bad), SrtpAuthenticationError);
    assert.throws(() => ours.srtcp.decrypt(rtcp.subarray(0, 12)), SrtpAuthenticationError);
  });
});

describe('CmDecryptor installed, between werift peers', () => {
  const pcs: RTCPeerConnection[] = [];
  after(async () => {
    await Promise.all(pcs.map((pc) => pc.close()));
  });

  it('media and RTCP arrive through it', async () => {
    installFastSrtpDecrypt();
    const rtp0 = fastSrtpStats.rtp;
    const rtcp0 = fastSrtpStats.rtcp;
    const a = new RTCPeerConnection(loopbackPeer);
    const b = new RTCPeerConnection(loopbackPeer);
    pcs.push(a, b);
    const tr = a.addTransceiver('video', { direction: 'sendonly' });
    const got: Buffer[] = [];
    b.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((p) => got.push(p.payload)));
    // AES-CM first, as the SFU's subscribing pcs ask (werift alone prefers AES-GCM).
    const preferCm = (pc: RTCPeerConnection) => {
      for (const t of pc.dtlsTransports) (t as unknown as { srtpProfiles: number[] }).srtpProfiles = [SRTP_AES128_CM_HMAC_SHA1_80];
    };
    await connectPair(a, b, preferCm);
    const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from([0x10, 0x01, i, ...randomBytes(500)]));
    for (const [i, p] of payloads.entries()) {
      await tr.sender.sendRtp(new RtpPacket(new RtpHeader({ sequenceNumber: 500 + i, timestamp: i * 3000, payloadType: tr.sender.codec!.payloadType, ssrc: tr.sender.ssrc }), p));
    }
    await until(() => got.length === 10, 10_000, 'ten packets');
    assert.deepEqual(got, payloads);
    assert.ok(fastSrtpStats.rtp - rtp0 >= 10, 'decrypted by ours');
    // werift's sender reports and receiver reports travel both ways and are decrypted by ours.
    await until(() => fastSrtpStats.rtcp - rtcp0 >= 2, 15_000, 'RTCP through ours');
  });
});

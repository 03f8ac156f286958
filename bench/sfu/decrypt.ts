/**
 * `node --import tsx bench/sfu/decrypt.ts`: CPU per received SRTP packet (1,000-byte payload) and
 * SRTCP packet (a 46-byte receiver report) decrypted by werift's AES-GCM and AES-CM ciphers and by
 * CmDecryptor (rtc/forward/SrtpDecryptor.ts), alternating rounds in one process.
 */
import { randomBytes } from 'node:crypto';
import { RtcpRrPacket, RtcpReceiverInfo, RtpHeader, SrtcpSession, SrtpSession } from 'werift';
import { useFastSrtpDecrypt } from '../../packages/server/src/rtc/forward/SrtpDecryptor.ts';
import { SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_HMAC_SHA1_80 } from '../../packages/server/src/rtc/forward/SrtpEncryptor.ts';

const N = 50_000;

function pair(profile: number, fast: boolean) {
  const gcm = profile === SRTP_AEAD_AES_128_GCM;
  const a = { key: randomBytes(16), salt: randomBytes(gcm ? 12 : 14) };
  const b = { key: randomBytes(16), salt: randomBytes(gcm ? 12 : 14) };
  const cfg = (l: typeof a, r: typeof a) => ({ keys: { localMasterKey: l.key, localMasterSalt: l.salt, remoteMasterKey: r.key, remoteMasterSalt: r.salt }, profile });
  const sender = { srtp: new SrtpSession(cfg(a, b) as never), srtcp: new SrtcpSession(cfg(a, b) as never) };
  const receiver = { srtp: new SrtpSession(cfg(b, a) as never), srtcp: new SrtcpSession(cfg(b, a) as never) };
  if (fast && !useFastSrtpDecrypt(receiver as never)) throw new Error('not AES-CM');
  const payload = randomBytes(1000);
  const rtp = Array.from({ length: 64 }, (_, i) => sender.srtp.encrypt(payload, new RtpHeader({ sequenceNumber: i, timestamp: i * 3000, ssrc: 1234, payloadType: 96 })));
  const rr = new RtcpRrPacket({ ssrc: 99, reports: [new RtcpReceiverInfo({ ssrc: 1234, fractionLost: 0, packetsLost: 0, highestSequence: 5, jitter: 1, lsr: 2, dlsr: 3 })] }).serialize();
  const rtcp = Array.from({ length: 64 }, () => sender.srtcp.encrypt(rr));
  return { receiver, rtp, rtcp };
}

const modes = [
  ['werift AES-GCM', SRTP_AEAD_AES_128_GCM, false],
  ['werift AES-CM', SRTP_AES128_CM_HMAC_SHA1_80, false],
  ['CmDecryptor', SRTP_AES128_CM_HMAC_SHA1_80, true],
] as const;
for (let round = 0; round < 2; round++) {
  for (const [name, profile, fast] of modes) {
    const { receiver, rtp, rtcp } = pair(profile, fast);
    let t = process.cpuUsage();
    // Sequence numbers repeat every 64 packets: werift's replay state is not checked on decrypt.
    for (let i = 0; i < N; i++) receiver.srtp.decrypt(rtp[i % 64]!);
    let c = process.cpuUsage(t);
    const rtpUs = (c.user + c.system) / N;
    t = process.cpuUsage();
    for (let i = 0; i < N; i++) receiver.srtcp.decrypt(rtcp[i % 64]!);
    c = process.cpuUsage(t);
    console.log(`${name.padEnd(15)} SRTP ${rtpUs.toFixed(2)} µs/packet   SRTCP ${((c.user + c.system) / N).toFixed(2)} µs/packet`);
  }
}

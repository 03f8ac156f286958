/**
 * `node --import tsx bench/sfu/srtp.ts`: CPU per SRTP-encrypted 1000-byte RTP packet, werift's
 * SrtpSession.encrypt against the forwarding path's SrtpEncryptor, for both profiles (one thread,
 * no I/O); for AES-CM also with the forwarded SSRC's keystreams made 16 packets ahead
 * (CmKeystream). The figures in docs/benchmarks.md (## SFU) come from this.
 */
import { randomBytes } from 'node:crypto';
import { RtpHeader, SrtpSession } from 'werift';
import { SrtpEncryptor, SrtpIndex } from '../../packages/server/src/rtc/forward/SrtpEncryptor.ts';
const N = 50000;
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
for (const profile of [1, 7]) {
  const sl = profile === 1 ? 14 : 12;
  const k = { localMasterKey: randomBytes(16), localMasterSalt: randomBytes(sl), remoteMasterKey: randomBytes(16), remoteMasterSalt: randomBytes(sl) };
  const s = new SrtpSession({ keys: k, profile: profile as 1 });
  const c = (s as unknown as { localContext: { srtpSessionKey: Buffer; srtpSessionSalt: Buffer; srtpSessionAuthTag: Buffer } }).localContext;
  const keys = { profile, key: c.srtpSessionKey, salt: c.srtpSessionSalt, authKey: c.srtpSessionAuthTag };
  const ours = new SrtpEncryptor(keys);
  const ahead = profile === 1 ? new SrtpEncryptor(keys, 77) : null;
  const payload = randomBytes(1000);
  const h = new RtpHeader({ payloadType: 96, sequenceNumber: 1, timestamp: 5, ssrc: 77, extensions: [{ id: 1, payload: Buffer.from('1') }, { id: 3, payload: Buffer.from([1, 2]) }] });
  const raw = h.serialize(h.serializeSize);
  const idx = new SrtpIndex();
  const ai = new SrtpIndex();
  for (let r = 0; r < 4; r++) {
    // CPU time (user + system), not wall time: the machine is shared.
    let t0 = cpu();
    for (let i = 0; i < N; i++) { h.sequenceNumber = i & 0xffff; s.encrypt(payload, h); }
    const w = (cpu() - t0) / N;
    t0 = cpu();
    for (let i = 0; i < N; i++) { const q = i & 0xffff; raw.writeUInt16BE(q, 2); ours.protect(raw, raw.length, -1, payload, 77, idx.rocFor(q), q); }
    const o = (cpu() - t0) / N;
    let a = '';
    if (ahead) {
      t0 = cpu();
      for (let i = 0; i < N; i++) { const q = i & 0xffff; raw.writeUInt16BE(q, 2); ahead.protect(raw, raw.length, -1, payload, 77, ai.rocFor(q), q); }
      a = `, ours with keystreams ahead ${((cpu() - t0) / N).toFixed(2)} µs CPU`;
    }
    console.log(`${profile === 1 ? 'AES_CM_128_HMAC_SHA1_80' : 'AEAD_AES_128_GCM'}: werift ${w.toFixed(2)} µs CPU, ours ${o.toFixed(2)} µs CPU${a} per 1000-byte packet`);
  }
}

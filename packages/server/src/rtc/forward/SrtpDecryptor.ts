/**
 * SRTP and SRTCP decryption of what the SFU receives (RFC 3711 AES_CM_128_HMAC_SHA1_80), in place
 * of werift's cipher for that profile. werift's creates an OpenSSL cipher and an HMAC object for
 * every packet and copies it three times; every RTCP packet a subscriber sends (receiver reports,
 * transport-wide feedback, NACK, PLI) and every RTP packet a publisher sends goes through it. In
 * a 50×50 bench room at 5 packets/s per publisher the incoming RTCP alone was 8 % of the SFU's
 * busy time. Here, as in SrtpEncryptor: the keystream from one long-lived `aes-128-ecb` cipher
 * (CmKeystream), the HMAC-SHA1 tag from PrefixHmac (no HMAC object).
 *
 * Contract: the same as the werift cipher methods it stands in for (werift 0.25, `CipherAesCtr`):
 * `decryptRtp(packet, roc, header)` and `decryptRTCP(packet)` return `[plaintext, header]`, the
 * plaintext in memory of its own (werift's RtpPacket keeps slices of it; the RTX ring keeps those
 * payloads), and throw werift's `SrtpAuthenticationError` when the tag does not match or the
 * packet is too short, which werift's DTLS transport drops quietly. `installFastSrtpDecrypt()`
 * puts them on every DTLS transport's receiving contexts whenever werift (re)creates its SRTP
 * sessions; other profiles (AES-GCM) keep werift's cipher. test/rtc/srtp-decrypt.test.ts checks
 * them against werift's own encryption and through two werift peer connections.
 */
import { createCipheriv, timingSafeEqual } from 'node:crypto';
import { RTCDtlsTransport, RtcpHeader, SrtpAuthenticationError, type RtpHeader } from 'werift';
import { CmKeystream } from './CmKeystream.ts';
import { IPAD_BYTES, PrefixHmac } from './PrefixHmac.ts';
import { SRTP_AES128_CM_HMAC_SHA1_80, WordView, xorInto } from './SrtpEncryptor.ts';

const TAG = 10;

/** Packets CmDecryptors decrypted in this process (for tests and diagnostics). */
export const fastSrtpStats = { rtp: 0, rtcp: 0 };
/** SRTCP's E flag and 31-bit index, after the packet (RFC 3711 §3.4). */
const INDEX = 4;

export class CmDecryptor {
  private readonly ks: CmKeystream;
  private readonly hmac: PrefixHmac;
  /** [key ⊕ ipad (64)] [authenticated portion] [ROC]: what the inner hash runs over. */
  private work = Buffer.alloc(IPAD_BYTES + 1500);
  private readonly expected = Buffer.alloc(20);
  private readonly outView = new WordView();
  private readonly ksView = new WordView();

  /** The session key, salt (14 bytes) and authentication key (20) of one direction. */
  constructor(key: Buffer, salt: Buffer, authKey: Buffer) {
    const ecb = createCipheriv('aes-128-ecb', key, null);
    ecb.setAutoPadding(false);
    this.ks = new CmKeystream(ecb, salt);
    this.hmac = new PrefixHmac(authKey);
    this.hmac.ipad.copy(this.work, 0);
  }

  /** Whether the first `n` bytes of `packet`, then `roc` when ≥ 0, carry the tag that follows them. */
  private authentic(packet: Buffer, n: number, roc: number): boolean {
    const len = n + (roc >= 0 ? 4 : 0);
    if (this.work.length < IPAD_BYTES + len) {
      this.work = Buffer.alloc(IPAD_BYTES + len);
      this.hmac.ipad.copy(this.work, 0);
    }
    packet.copy(this.work, IPAD_BYTES, 0, n);
    if (roc >= 0) this.work.writeUInt32BE(roc >>> 0, IPAD_BYTES + n);
    this.expected.write(this.hmac.mac(this.work.subarray(0, IPAD_BYTES + len)), 0, 20, 'latin1');
    return timingSafeEqual(this.expected.subarray(0, TAG), packet.subarray(n, n + TAG));
  }

  decryptRtp(packet: Buffer, roc: number, header: RtpHeader): [Buffer, RtpHeader] {
    const end = packet.length - TAG;
    const at = header.payloadOffset;
    if (end < 12 || at > end || !this.authentic(packet, end, roc)) throw new SrtpAuthenticationError('Failed to authenticate SRTP packet');
    const out = Buffer.allocUnsafe(end);
    packet.copy(out, 0, 0, at);
    const ks = this.ks.get(header.ssrc, roc, header.sequenceNumber, end - at);
    xorInto(out, at, packet.subarray(at, end), ks, this.ks.offset, this.outView, this.ksView);
    if (header.padding) {
      const p = out[end - 1]!;
      if (end <= at || p === 0 || p > end - at) throw new SrtpAuthenticationError('Failed to authenticate SRTP packet');
      header.paddingSize = p;
    } else header.paddingSize = 0;
    fastSrtpStats.rtp += 1;
    return [out, header];
  }

  decryptRTCP(packet: Buffer): [Buffer, RtcpHeader] {
    const tail = packet.length - TAG - INDEX;
    if (tail < 8 || !this.authentic(packet, tail + INDEX, -1)) throw new SrtpAuthenticationError('Failed to authenticate SRTCP packet');
    const out = Buffer.allocUnsafe(tail);
    packet.copy(out, 0, 0, 8);
    const word = packet.readUInt32BE(tail);
    if (word >>> 31 === 0) packet.copy(out, 8, 8, tail);
    else {
      const index = word & 0x7fffffff;
      const ks = this.ks.get(packet.readUInt32BE(4), Math.floor(index / 65536), index % 65536, tail - 8);
      xorInto(out, 8, packet.subarray(8, tail), ks, this.ks.offset, this.outView, this.ksView);
    }
    fastSrtpStats.rtcp += 1;
    return [out, RtcpHeader.deSerialize(out.subarray(0, 4))];
  }
}

interface ContextLike {
  profile: number;
  cipher: { decryptRtp?: unknown; decryptRTCP?: unknown };
  srtpSessionKey: Buffer;
  srtpSessionSalt: Buffer;
  srtpSessionAuthTag: Buffer;
  srtcpSessionKey: Buffer;
  srtcpSessionSalt: Buffer;
  srtcpSessionAuthTag: Buffer;
}
interface TransportLike {
  srtp?: { remoteContext?: ContextLike };
  srtcp?: { remoteContext?: ContextLike };
  updateSrtpSession(): void;
}

/** Puts CmDecryptors on one transport's receiving contexts (AES-CM only); true when it did. */
export function useFastSrtpDecrypt(t: TransportLike): boolean {
  const rtp = t.srtp?.remoteContext;
  const rtcp = t.srtcp?.remoteContext;
  if (!rtp || !rtcp || rtp.profile !== SRTP_AES128_CM_HMAC_SHA1_80 || rtcp.profile !== SRTP_AES128_CM_HMAC_SHA1_80) return false;
  const r = new CmDecryptor(rtp.srtpSessionKey, rtp.srtpSessionSalt, rtp.srtpSessionAuthTag);
  const c = new CmDecryptor(rtcp.srtcpSessionKey, rtcp.srtcpSessionSalt, rtcp.srtcpSessionAuthTag);
  rtp.cipher.decryptRtp = (packet: Buffer, roc: number, header: RtpHeader) => r.decryptRtp(packet, roc, header);
  rtcp.cipher.decryptRTCP = (packet: Buffer) => c.decryptRTCP(packet);
  return true;
}

const installed = Symbol.for('parley.fastSrtpDecrypt');

/** Idempotent: from now on every DTLS transport of this process decrypts AES-CM with CmDecryptors. */
export function installFastSrtpDecrypt(): void {
  const proto = RTCDtlsTransport.prototype as unknown as Record<symbol, boolean> & TransportLike;
  if (proto[installed]) return;
  proto[installed] = true;
  const update = proto.updateSrtpSession;
  proto.updateSrtpSession = function (this: TransportLike): void {
    update.call(this);
    useFastSrtpDecrypt(this);
  };
}

/**
 * SRTP encryption of outgoing RTP (RFC 3711 AES_CM_128_HMAC_SHA1_80, RFC 7714 AEAD_AES_128_GCM)
 * for the forwarding fast path, with the session keys werift derived from the DTLS handshake.
 *
 * Why not werift's own: it creates an OpenSSL cipher object (and, for AES-CM, an HMAC object) for
 * every packet and concatenates the result from three buffers. Here:
 * - AES-CM: the CTR keystream comes from one long-lived `aes-128-ecb` cipher (CmKeystream: the
 *   counter blocks of the next 16 packets of the forwarded SSRC encrypted in one `update`, XORed
 *   in JS); the HMAC-SHA1 tag from PrefixHmac (two one-shot hashes; the packet is written right
 *   behind the precomputed key ⊕ ipad block), so no HMAC object either.
 * - AES-GCM: Node cannot re-key or re-IV a GCM cipher, so one cipher object per packet remains;
 *   only the copies are saved.
 *
 * Contract: `protect` returns a buffer holding header ‖ encrypted payload ‖ tag, which stays
 * untouched until the caller calls `recycle()` (once the kernel has copied it: a synchronous
 * send); without `recycle`, every result has memory of its own. The caller owns the
 * rollover counter (see `SrtpIndex`): this class keeps no per-SSRC state.
 */
import { createCipheriv } from 'node:crypto';
import { CmKeystream } from './CmKeystream.ts';
import { PrefixHmac } from './PrefixHmac.ts';

/** werift's `ProtectionProfile` numbers (the DTLS use_srtp ids). */
export const SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001;
export const SRTP_AEAD_AES_128_GCM = 0x0007;

export interface SrtpKeys {
  profile: number;
  /** Session encryption key (16 bytes). */
  key: Buffer;
  /** Session salt (14 bytes for AES-CM, 12 for GCM). */
  salt: Buffer;
  /** Session authentication key (20 bytes; AES-CM only). */
  authKey: Buffer;
}

const CM_TAG = 10;
const GCM_TAG = 16;
/** Output memory kept per encryptor: an MTU-sized packet with the 64-byte ipad block in front. */
const SPARE_BYTES = 64 + 1500;

export class SrtpEncryptor {
  readonly profile: number;
  readonly tagLength: number;
  private readonly key: Buffer;
  private readonly salt: Buffer;
  private readonly hmac: PrefixHmac | null = null;
  private readonly ks: CmKeystream | null = null;
  /** AES-CM output memory: the last result, and the one `recycle` gave back (its ipad block stays written). */
  private last: Buffer | null = null;
  private spare: Buffer | null = null;
  private readonly gcmIv = Buffer.alloc(12);
  private readonly views = new CmViews();
  /** 32-bit views of the output memory and of the keystream buffer, for the XOR. */
  private readonly outView = new WordView();
  private readonly ksView = new WordView();

  /** `aheadSsrc`: the SSRC whose keystreams are made several packets at a time (CmKeystream). */
  constructor(keys: SrtpKeys, aheadSsrc = -1) {
    this.profile = keys.profile;
    this.key = Buffer.from(keys.key);
    this.salt = Buffer.from(keys.salt);
    if (keys.profile === SRTP_AES128_CM_HMAC_SHA1_80) {
      this.tagLength = CM_TAG;
      const ecb = createCipheriv('aes-128-ecb', this.key, null);
      ecb.setAutoPadding(false);
      this.ks = new CmKeystream(ecb, this.salt, aheadSsrc);
      this.hmac = new PrefixHmac(keys.authKey);
    } else if (keys.profile === SRTP_AEAD_AES_128_GCM) {
      this.tagLength = GCM_TAG;
    } else {
      throw new RangeError(`unsupported SRTP profile ${keys.profile}`);
    }
  }

  /**
   * The result of the last `protect` is no longer needed (the kernel has copied the datagram):
   * the next AES-CM packet is written into the same memory instead of a new buffer.
   */
  recycle(): void {
    if (this.last) this.spare = this.last;
    this.last = null;
  }

  /** The size of `protect`'s result for this header and payload length. */
  size(headerLength: number, payloadLength: number): number {
    return headerLength + payloadLength + this.tagLength;
  }

  /**
   * Encrypt one RTP packet: `header` (its first `headerLength` bytes, already final), then the
   * payload, optionally preceded by the two bytes `prefix` (RTX's original sequence number; -1:
   * none). `roc` and `seq` form the packet index, `ssrc` is the header's.
   */
  protect(header: Buffer, headerLength: number, prefix: number, payload: Buffer, ssrc: number, roc: number, seq: number): Buffer {
    return this.ks ? this.protectCm(header, headerLength, prefix, payload, ssrc, roc, seq) : this.protectGcm(header, headerLength, prefix, payload, ssrc, roc, seq);
  }

  private protectCm(header: Buffer, hl: number, prefix: number, payload: Buffer, ssrc: number, roc: number, seq: number): Buffer {
    const pl = payload.length + (prefix >= 0 ? 2 : 0);
    // [key ⊕ ipad (64)] [header] [payload] [tag (10); ROC while hashing]
    const need = 64 + hl + pl + CM_TAG;
    let buf = this.spare;
    this.spare = null;
    if (!buf || buf.length < need) {
      buf = Buffer.allocUnsafeSlow(Math.max(need, SPARE_BYTES));
      this.hmac!.ipad.copy(buf, 0);
    }
    this.last = buf;
    // A byte loop: Buffer#copy of part of a buffer makes a typed-array view per call.
    for (let i = 0; i < hl; i++) buf[64 + i] = header[i]!;
    const ks = this.ks!.get(ssrc, roc, seq, pl);
    let o = 64 + hl;
    let k = this.ks!.offset;
    if (prefix >= 0) {
      buf[o++] = (prefix >>> 8) ^ ks[k++]!;
      buf[o++] = (prefix & 0xff) ^ ks[k++]!;
    }
    xorInto(buf, o, payload, ks, k, this.outView, this.ksView);
    o += payload.length;
    buf.writeUInt32BE(roc >>> 0, o);
    const v = this.views.of(buf, o);
    buf.write(this.hmac!.mac(v.hashed), o, CM_TAG, 'latin1');
    return v.packet;
  }

  private protectGcm(header: Buffer, hl: number, prefix: number, payload: Buffer, ssrc: number, roc: number, seq: number): Buffer {
    // RFC 7714 §8.1: 00 00 ‖ SSRC ‖ ROC ‖ SEQ, XOR the 12-byte salt.
    const iv = this.gcmIv;
    iv.writeUInt16BE(0, 0);
    iv.writeUInt32BE(ssrc >>> 0, 2);
    iv.writeUInt32BE(roc >>> 0, 6);
    iv.writeUInt16BE(seq, 10);
    for (let i = 0; i < 12; i++) iv[i] = iv[i]! ^ this.salt[i]!;
    const c = createCipheriv('aes-128-gcm', this.key, iv);
    const aad = header.subarray(0, hl);
    c.setAAD(aad);
    const pl = payload.length + (prefix >= 0 ? 2 : 0);
    const buf = Buffer.allocUnsafe(hl + pl + GCM_TAG);
    aad.copy(buf, 0);
    let o = hl;
    if (prefix >= 0) {
      const p = Buffer.from([prefix >>> 8, prefix & 0xff]);
      o += c.update(p).copy(buf, o);
    }
    o += c.update(payload).copy(buf, o);
    o += c.final().copy(buf, o);
    c.getAuthTag().copy(buf, o);
    return buf;
  }
}

/**
 * The two views of an AES-CM output buffer one packet needs: what the inner hash runs over
 * (ipad ‖ header ‖ payload ‖ ROC) and the packet (header ‖ payload ‖ tag). Kept for the last
 * buffer and payload end: forwarded video packets mostly have one size (full MTU-sized packets of
 * a frame), so most copies reuse both instead of making two Buffers each.
 */
class CmViews {
  private buf: Buffer | null = null;
  private end = -1;
  hashed: Buffer = Buffer.alloc(0);
  packet: Buffer = Buffer.alloc(0);

  of(buf: Buffer, end: number): this {
    if (buf !== this.buf || end !== this.end) {
      this.buf = buf;
      this.end = end;
      this.hashed = buf.subarray(0, end + 4);
      this.packet = buf.subarray(64, end + CM_TAG);
    }
    return this;
  }
}

/**
 * A 32-bit view of a whole ArrayBuffer, remembered for the last buffer asked about, so the XOR of
 * a copy does not create typed arrays: a forwarded packet's payload is XORed once per subscriber
 * (one view serves the whole fan-out), an encryptor's output memory and its keystream cache are
 * reused across packets. Words are in platform order; callers only XOR with them.
 */
export class WordView {
  private of: ArrayBufferLike | null = null;
  private view: Int32Array<ArrayBufferLike> = new Int32Array(0);

  words(buf: Buffer): Int32Array<ArrayBufferLike> {
    if (buf.buffer !== this.of) {
      this.of = buf.buffer;
      this.view = new Int32Array(buf.buffer, 0, buf.buffer.byteLength >> 2);
    }
    return this.view;
  }
}

/** The payload being fanned out (all copies of one packet XOR the same payload, one after another). */
const payloadView = new WordView();

/**
 * out[at…] = a ⊕ b[from…] over a's length: 32 bits at a time when all three are 4-byte aligned
 * (RTP headers are whole words, so the payloads werift hands over usually are), else byte-wise.
 * `outView` and `bView` remember the 32-bit views of `out`'s and `b`'s memory.
 */
export function xorInto(out: Buffer, at: number, a: Buffer, b: Buffer, from: number, outView: WordView, bView: WordView): void {
  const n = a.length;
  const oo = out.byteOffset + at;
  const bo = b.byteOffset + from;
  let i = 0;
  if (((oo | a.byteOffset | bo) & 3) === 0 && n >= 64) {
    const words = n >> 2;
    const x = outView.words(out);
    const y = payloadView.words(a);
    const z = bView.words(b);
    const xo = oo >> 2;
    const yo = a.byteOffset >> 2;
    const zo = bo >> 2;
    for (let w = 0; w < words; w++) x[xo + w] = y[yo + w]! ^ z[zo + w]!;
    i = words << 2;
  }
  for (; i < n; i++) out[at + i] = a[i]! ^ b[from + i]!;
}

/**
 * The sender's side of RFC 3711 §3.3.1 for one SSRC: the rollover counter of each outgoing
 * sequence number. Sequence numbers mostly advance; a retransmission of an older one (NACK
 * without RTX) gets the counter it was first sent with.
 */
export class SrtpIndex {
  private roc = 0;
  private last = -1;

  /** The rollover counter for `seq`; advances the state when `seq` is the newest. */
  rocFor(seq: number): number {
    if (this.last < 0) {
      this.last = seq;
      return 0;
    }
    const d = (seq - this.last) & 0xffff;
    if (d === 0) return this.roc;
    if (d < 0x8000) {
      // Forward (possibly across the wrap).
      if (seq < this.last) this.roc = (this.roc + 1) >>> 0;
      this.last = seq;
      return this.roc;
    }
    // Backward: an older packet, before the wrap when it is numerically above the newest.
    return seq > this.last && this.roc > 0 ? this.roc - 1 : this.roc;
  }
}

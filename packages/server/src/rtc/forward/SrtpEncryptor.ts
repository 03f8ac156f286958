/**
 * SRTP encryption of outgoing RTP (RFC 3711 AES_CM_128_HMAC_SHA1_80, RFC 7714 AEAD_AES_128_GCM)
 * for the forwarding fast path, with the session keys werift derived from the DTLS handshake.
 *
 * Why not werift's own: it creates an OpenSSL cipher object (and, for AES-CM, an HMAC object) for
 * every packet and concatenates the result from three buffers. Here:
 * - AES-CM: the CTR keystream comes from one long-lived `aes-128-ecb` cipher (the counter blocks
 *   of a packet encrypted in one `update`, XORed in JS); the HMAC-SHA1 tag from two one-shot
 *   `crypto.hash` calls over a buffer that starts with the precomputed key ⊕ ipad block (the
 *   packet is written right behind it), so no HMAC object either.
 * - AES-GCM: Node cannot re-key or re-IV a GCM cipher, so one cipher object per packet remains;
 *   only the copies are saved.
 *
 * Contract: `protect` returns a fresh buffer (the caller hands it to `socket.send`, which may
 * still read it after returning) holding header ‖ encrypted payload ‖ tag. The caller owns the
 * rollover counter (see `SrtpIndex`): this class keeps no per-SSRC state.
 */
import { createCipheriv, hash, type Cipher } from 'node:crypto';
import { endianness } from 'node:os';

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

const LE = endianness() === 'LE';
const CM_TAG = 10;
const GCM_TAG = 16;
/** Largest payload the counter-block scratch covers without growing (bytes). */
const INITIAL_BLOCKS = 128;

export class SrtpEncryptor {
  readonly profile: number;
  readonly tagLength: number;
  private readonly key: Buffer;
  private readonly salt: Buffer;
  private readonly ecb: Cipher | null = null;
  private readonly ipad = Buffer.alloc(64);
  private readonly outer = Buffer.alloc(64 + 20);
  private blocks = Buffer.alloc(INITIAL_BLOCKS * 16);
  private words = new Uint32Array(this.blocks.buffer, this.blocks.byteOffset, INITIAL_BLOCKS * 4);
  private readonly iv = Buffer.alloc(16);
  private readonly ivWords = new Uint32Array(4);
  private readonly gcmIv = Buffer.alloc(12);

  constructor(keys: SrtpKeys) {
    this.profile = keys.profile;
    this.key = Buffer.from(keys.key);
    this.salt = Buffer.from(keys.salt);
    if (keys.profile === SRTP_AES128_CM_HMAC_SHA1_80) {
      this.tagLength = CM_TAG;
      const ecb = createCipheriv('aes-128-ecb', this.key, null);
      ecb.setAutoPadding(false);
      this.ecb = ecb;
      const k = Buffer.alloc(64);
      keys.authKey.copy(k);
      for (let i = 0; i < 64; i++) {
        this.ipad[i] = k[i]! ^ 0x36;
        this.outer[i] = k[i]! ^ 0x5c;
      }
      this.fillBlockCounters(0);
    } else if (keys.profile === SRTP_AEAD_AES_128_GCM) {
      this.tagLength = GCM_TAG;
    } else {
      throw new RangeError(`unsupported SRTP profile ${keys.profile}`);
    }
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
    return this.ecb ? this.protectCm(header, headerLength, prefix, payload, ssrc, roc, seq) : this.protectGcm(header, headerLength, prefix, payload, ssrc, roc, seq);
  }

  private protectCm(header: Buffer, hl: number, prefix: number, payload: Buffer, ssrc: number, roc: number, seq: number): Buffer {
    const pl = payload.length + (prefix >= 0 ? 2 : 0);
    // [key ⊕ ipad (64)] [header] [payload] [tag (10); ROC while hashing]
    const buf = Buffer.allocUnsafe(64 + hl + pl + CM_TAG);
    this.ipad.copy(buf, 0);
    header.copy(buf, 64, 0, hl);
    const ks = this.keystream(ssrc, roc, seq, pl);
    let o = 64 + hl;
    let k = 0;
    if (prefix >= 0) {
      buf[o++] = (prefix >>> 8) ^ ks[k++]!;
      buf[o++] = (prefix & 0xff) ^ ks[k++]!;
    }
    xorInto(buf, o, payload, ks, k);
    o += payload.length;
    buf.writeUInt32BE(roc >>> 0, o);
    const inner = hash('sha1', buf.subarray(0, o + 4), 'buffer');
    inner.copy(this.outer, 64);
    const mac = hash('sha1', this.outer, 'buffer');
    mac.copy(buf, o, 0, CM_TAG);
    return buf.subarray(64);
  }

  /** AES-CM keystream for `length` bytes of one packet (RFC 3711 §4.1.1). */
  private keystream(ssrc: number, roc: number, seq: number, length: number): Buffer {
    const iv = this.iv;
    this.salt.copy(iv, 0, 0, 14);
    iv[14] = 0;
    iv[15] = 0;
    iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ roc) >>> 0, 8);
    iv.writeUInt16BE(iv.readUInt16BE(12) ^ seq, 12);
    const nBlocks = (length + 15) >> 4;
    if (nBlocks * 16 > this.blocks.length) this.growBlocks(nBlocks);
    if (LE) {
      const w = this.ivWords;
      w[0] = iv.readUInt32LE(0);
      w[1] = iv.readUInt32LE(4);
      w[2] = iv.readUInt32LE(8);
      const low = iv[12]! | (iv[13]! << 8);
      const words = this.words;
      // Bytes 14–15 of each block hold its counter (set once in fillBlockCounters).
      for (let b = 0, j = 0; b < nBlocks; b++, j += 4) {
        words[j] = w[0]!;
        words[j + 1] = w[1]!;
        words[j + 2] = w[2]!;
        words[j + 3] = ((words[j + 3]! & 0xffff0000) | low) >>> 0;
      }
    } else {
      for (let b = 0; b < nBlocks; b++) iv.copy(this.blocks, b * 16, 0, 14);
    }
    return this.ecb!.update(this.blocks.subarray(0, nBlocks * 16));
  }

  private growBlocks(nBlocks: number): void {
    this.blocks = Buffer.alloc(nBlocks * 16);
    this.words = new Uint32Array(this.blocks.buffer, this.blocks.byteOffset, nBlocks * 4);
    this.fillBlockCounters(0);
  }

  private fillBlockCounters(from: number): void {
    for (let b = from; b < this.blocks.length / 16; b++) this.blocks.writeUInt16BE(b & 0xffff, b * 16 + 14);
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
 * out[at…] = a ⊕ b[from…] over a's length: 32 bits at a time when all three are 4-byte aligned
 * (RTP headers are whole words, so the payloads werift hands over usually are), else byte-wise.
 */
function xorInto(out: Buffer, at: number, a: Buffer, b: Buffer, from: number): void {
  const n = a.length;
  const oo = out.byteOffset + at;
  const bo = b.byteOffset + from;
  let i = 0;
  if (((oo | a.byteOffset | bo) & 3) === 0 && n >= 64) {
    const words = n >> 2;
    const x = new Int32Array(out.buffer, oo, words);
    const y = new Int32Array(a.buffer, a.byteOffset, words);
    const z = new Int32Array(b.buffer, bo, words);
    for (let w = 0; w < words; w++) x[w] = y[w]! ^ z[w]!;
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

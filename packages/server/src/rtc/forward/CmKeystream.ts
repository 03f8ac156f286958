/**
 * AES-CM keystreams for SRTP (RFC 3711 §4.1.1) from one long-lived `aes-128-ecb` cipher, made
 * several packets at a time for the stream that asks most.
 *
 * Why: a packet's keystream depends only on the session salt, its SSRC and its packet index
 * (ROC ‖ SEQ), never on its contents, and a forwarded stream's indices count up by one. Each
 * `Cipher.update` costs ~2 µs of call and buffer overhead before any AES is done (measured on the
 * bench machine: 1,008 bytes ~6 µs, 16 packets' worth in one call ~0.55 µs per packet), so the
 * keystreams of the next 16 indices of one SSRC are encrypted in one call and served from
 * there; any other packet (another SSRC, an older index, a packet wider than `MAX_AHEAD_BYTES`)
 * gets its own.
 *
 * Contract: `get` returns a buffer and sets `offset`; the packet's keystream is the `length` bytes
 * from `offset`. The buffer is valid until the next `get` (callers XOR it right away). Not shared
 * between threads; one instance per set of session keys.
 */
import type { Cipher } from 'node:crypto';
import { endianness } from 'node:os';

/** Packets wider than this are never served ahead (one MTU-sized video packet fits). */
const MAX_AHEAD_BYTES = 1216;
const MAX_AHEAD_BLOCKS = MAX_AHEAD_BYTES / 16;
/** Packets whose keystreams one ECB call makes. */
const AHEAD = 16;
/** An index this far behind the cache is a stream that started over, not a retransmission. */
const RESTART = 4096;

const LE = endianness() === 'LE';

/** Counter blocks are written here before the ECB call (all instances run on one thread). */
let scratch = new Uint32Array(0);

function scratchFor(blocks: number): Uint32Array {
  if (scratch.length < blocks * 4) scratch = new Uint32Array(Math.max(blocks * 4, scratch.length * 2));
  return scratch;
}

/** The 32-bit word `x` (big-endian value) as the platform stores it in a Uint32Array. */
function wire(x: number): number {
  return LE ? (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0 : x >>> 0;
}

export class CmKeystream {
  /** Where the last `get`'s keystream starts in the buffer it returned. */
  offset = 0;
  private readonly ecb: Cipher;
  /** Salt bytes 0–3, 4–7, 8–11 as big-endian words, and bytes 12–13. */
  private readonly s0: number;
  private readonly s1: number;
  private readonly s2: number;
  private readonly s3: number;
  /** The SSRC served ahead; -1 (matches no SSRC): none. */
  private readonly aheadSsrc: number;
  private cache: Buffer | null = null;
  /** Packet index of the cache's first entry; blocks per entry. */
  private base = -1;
  private per = 0;
  /** Blocks of the widest packet of the ahead SSRC seen so far. */
  private widest = 0;

  /**
   * `ecb`: aes-128-ecb with the session key, auto padding off. `salt`: the 14-byte session salt.
   * `aheadSsrc`: the SSRC served 16 packets at a time (-1: none).
   */
  constructor(ecb: Cipher, salt: Buffer, aheadSsrc = -1) {
    this.ecb = ecb;
    this.s0 = salt.readUInt32BE(0);
    this.s1 = salt.readUInt32BE(4);
    this.s2 = salt.readUInt32BE(8);
    this.s3 = salt.readUInt16BE(12);
    this.aheadSsrc = aheadSsrc < 0 ? -1 : aheadSsrc >>> 0;
  }

  get(ssrc: number, roc: number, seq: number, length: number): Buffer {
    const n = (length + 15) >> 4;
    if (ssrc >>> 0 === this.aheadSsrc && n <= MAX_AHEAD_BLOCKS) {
      if (n > this.widest) this.widest = n;
      const index = roc * 65536 + seq;
      const d = index - this.base;
      const cache = this.cache;
      if (cache && d >= 0 && d < AHEAD && n <= this.per) {
        this.offset = d * this.per * 16;
        return cache;
      }
      // Shortly behind the cache (a retransmission without RTX): its own, the cache stays. Far
      // behind: the stream started over (new numbering); serve it ahead from here.
      if (!cache || d >= 0 || d < -RESTART) return this.refill(ssrc, index);
    }
    this.offset = 0;
    return this.make(ssrc, roc * 65536 + seq, 1, n);
  }

  private refill(ssrc: number, index: number): Buffer {
    this.per = this.widest;
    this.base = index;
    this.cache = this.make(ssrc, index, AHEAD, this.per);
    this.offset = 0;
    return this.cache;
  }

  /** Keystreams of `count` consecutive indices from `index`, `blocks` blocks each, back to back. */
  private make(ssrc: number, index: number, count: number, blocks: number): Buffer {
    const words = scratchFor(count * blocks);
    const w0 = wire(this.s0);
    const w1 = wire(this.s1 ^ ssrc);
    let at = 0;
    for (let j = 0; j < count; j++) {
      const i = index + j;
      const w2 = wire(this.s2 ^ Math.floor(i / 65536));
      const hi = ((this.s3 ^ i % 65536) << 16) >>> 0;
      for (let b = 0; b < blocks; b++, at += 4) {
        words[at] = w0;
        words[at + 1] = w1;
        words[at + 2] = w2;
        words[at + 3] = wire(hi | (b & 0xffff));
      }
    }
    return this.ecb.update(new Uint8Array(words.buffer, 0, at * 4));
  }
}

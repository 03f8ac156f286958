/**
 * HMAC-SHA1 (RFC 2104) for SRTP/SRTCP tags without an HMAC object per packet: the key ⊕ ipad block
 * is computed once, the caller keeps it at the front of the buffer it writes the message into
 * (so the inner hash is one one-shot `crypto.hash` over that buffer, no copy to assemble it), and
 * the outer hash runs over a kept key ⊕ opad block plus the inner digest. Digests travel as latin1
 * strings ('binary': one char per byte): a Buffer result costs a backing store per call, ~3 µs of
 * the ~4.3 µs of the two hashes (measured, 100,000 calls).
 *
 * Contract: `mac(prefixed)` takes a buffer whose first 64 bytes are `ipad` and returns the 20-byte
 * MAC of the rest as a latin1 string. Not shared between threads.
 */
import { hash } from 'node:crypto';

export const IPAD_BYTES = 64;

export class PrefixHmac {
  /** key ⊕ 0x36, 64 bytes: what the message's buffer must start with. */
  readonly ipad = Buffer.alloc(IPAD_BYTES);
  /** key ⊕ 0x5c, then room for the inner digest. */
  private readonly outer = Buffer.alloc(IPAD_BYTES + 20);

  constructor(key: Buffer) {
    const k = Buffer.alloc(IPAD_BYTES);
    key.copy(k);
    for (let i = 0; i < IPAD_BYTES; i++) {
      this.ipad[i] = k[i]! ^ 0x36;
      this.outer[i] = k[i]! ^ 0x5c;
    }
  }

  mac(prefixed: Buffer): string {
    this.outer.write(hash('sha1', prefixed, 'binary'), IPAD_BYTES, 20, 'latin1');
    return hash('sha1', this.outer, 'binary');
  }
}

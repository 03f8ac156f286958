/**
 * VP8 RTP payload inspection (RFC 7741), enough to know where a layer can be switched to: the
 * first packet of a keyframe. Reads a few bytes; never throws on short or odd payloads.
 */

/** True when this RTP payload is the first packet of a VP8 keyframe. */
export function isVp8Keyframe(payload: Uint8Array): boolean {
  if (payload.length < 1) return false;
  const b0 = payload[0]!;
  const start = (b0 & 0x10) !== 0; // S: start of a partition
  const pid = b0 & 0x07; // partition index
  if (!start || pid !== 0) return false;
  let i = 1;
  if (b0 & 0x80) {
    // X: an extension byte I L T K follows.
    if (payload.length < 2) return false;
    const x = payload[1]!;
    i = 2;
    if (x & 0x80) {
      // I: PictureID, 7 or 15 bits (M bit).
      if (payload.length <= i) return false;
      i += payload[i]! & 0x80 ? 2 : 1;
    }
    if (x & 0x40) i += 1; // L: TL0PICIDX
    if (x & 0x30) i += 1; // T or K: TID / KEYIDX
  }
  if (payload.length <= i) return false;
  // VP8 payload header: bit 0 of the first byte is P, the inverse key frame flag.
  return (payload[i]! & 0x01) === 0;
}

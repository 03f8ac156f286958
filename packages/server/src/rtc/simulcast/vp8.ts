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

/**
 * The frame size a VP8 keyframe declares (RFC 6386 9.1: 3-byte frame tag, start code 9d 01 2a,
 * then 14-bit width and height), from the first RTP packet of the keyframe. Null when the payload
 * is not such a packet.
 */
export function vp8KeyframeSize(payload: Uint8Array): { width: number; height: number } | null {
  if (!isVp8Keyframe(payload)) return null;
  let i = 1;
  const b0 = payload[0]!;
  if (b0 & 0x80) {
    const x = payload[1]!;
    i = 2;
    if (x & 0x80) i += payload[i]! & 0x80 ? 2 : 1;
    if (x & 0x40) i += 1;
    if (x & 0x30) i += 1;
  }
  if (payload.length < i + 10) return null;
  if (payload[i + 3] !== 0x9d || payload[i + 4] !== 0x01 || payload[i + 5] !== 0x2a) return null;
  const width = (payload[i + 6]! | (payload[i + 7]! << 8)) & 0x3fff;
  const height = (payload[i + 8]! | (payload[i + 9]! << 8)) & 0x3fff;
  return width > 0 && height > 0 ? { width, height } : null;
}

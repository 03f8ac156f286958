/**
 * The size at which this page shows each remote video track, as the SFU is told it (`rtc.layer`,
 * device pixels): it picks the simulcast layer to match. Small changes are not worth a message.
 */

/** A tile must change size by this factor before the SFU is told again. */
const TILE_CHANGE = 1.25;

export class TileSizes {
  private readonly sizes = new Map<string, { w: number; h: number }>();

  /**
   * Record the CSS size of `track`'s tile; returns the device-pixel size to send, or null when it
   * did not change noticeably (hidden and shown always count).
   */
  set(track: string, width: number, height: number, dpr = globalThis.devicePixelRatio || 1): { w: number; h: number } | null {
    const w = Math.round(width * dpr);
    const h = Math.round(height * dpr);
    const last = this.sizes.get(track);
    if (last && (w === 0) === (last.w === 0) && Math.max(w / last.w, last.w / w) < TILE_CHANGE && Math.max(h / last.h, last.h / h) < TILE_CHANGE) return null;
    this.sizes.set(track, { w, h });
    return { w, h };
  }

  /** Every recorded size of a track that still `exists` (the rest are forgotten): for a new participation. */
  all(exists: (track: string) => boolean): [string, { w: number; h: number }][] {
    for (const track of [...this.sizes.keys()]) if (!exists(track)) this.sizes.delete(track);
    return [...this.sizes];
  }
}

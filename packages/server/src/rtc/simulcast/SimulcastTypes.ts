/**
 * Shared types of the simulcast modules. A published video track may arrive as up to three
 * layers (rids `q`, `h`, `f` in Chromium's order of size); each subscriber gets one of them.
 * Everything here is plain data, so the policies (LayerSelector, LayerPauser) stay pure and
 * unit-testable; the DownTrack / Publisher feed them and act on their decisions.
 */

/** Identifies a layer: its rid from the SDP, or '' for a track sent without simulcast. */
export type LayerId = string;

export interface SimulcastLayer {
  id: LayerId;
  /** SSRC of the layer once its first packet arrived; null before (werift learns it late). */
  ssrc: number | null;
  /** Encoded frame size (from the SDP `a=imageattr`, the client's `rtc.offer`, or the first keyframe). */
  width: number;
  height: number;
  /** Measured bitrate in bit/s over the last seconds; 0 while not measured (a nominal figure is used). */
  bitrate: number;
  /** Packets of this layer arrived recently. */
  live: boolean;
  /** The SFU asked the publisher to stop this layer: it counts as available and resumes on demand. */
  paused?: boolean;
}

/** The size a subscriber shows a track at, in device pixels; null (or 0×0) when the tile is hidden. */
export interface TileSize {
  width: number;
  height: number;
}

/**
 * A bitrate to assume for a layer before it is measured, by its height. Roughly what Chromium's
 * VP8 simulcast aims at for 180p / 360p / 720p / 1080p.
 */
export function nominalBitrate(layer: Pick<SimulcastLayer, 'height' | 'width'>): number {
  const h = Math.min(layer.height, layer.width) || layer.height;
  if (h <= 200) return 150_000;
  if (h <= 400) return 500_000;
  if (h <= 800) return 1_500_000;
  return 3_000_000;
}

/** The bitrate the selector budgets for a layer: measured if known, else nominal. */
export function layerCost(layer: SimulcastLayer): number {
  return layer.bitrate > 0 ? layer.bitrate : nominalBitrate(layer);
}

/** Layers from smallest to largest (by pixels; ties by bitrate). Does not mutate its input. */
/** Smallest first: by pixels, then by cost. */
export function compareLayers(a: SimulcastLayer, b: SimulcastLayer): number {
  return a.width * a.height - b.width * b.height || layerCost(a) - layerCost(b);
}

export function sortLayers<L extends SimulcastLayer>(layers: readonly L[]): L[] {
  return [...layers].sort(compareLayers);
}

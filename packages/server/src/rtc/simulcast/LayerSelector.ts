/**
 * Which simulcast layer one subscriber gets of one published video track, and when it switches.
 * Pure: no timers and no I/O; the owner (a DownTrack) calls `update()` when the inputs change and
 * at least every few hundred ms, and `onPacket()` for every packet of any layer of the track.
 *
 * Policy:
 * - The wanted layer is the smallest that covers the tile (its pixels ≥ `coverage` × the tile's),
 *   or the largest there is. A hidden tile wants nothing: the subscriber gets no video.
 * - It is capped by bandwidth: the largest layer up to the wanted one whose cost fits in
 *   `headroom` × the estimate. When not even the smallest fits, the smallest is sent anyway
 *   (`starved` says so); pausing video entirely is the allocator's business, not this one's.
 * - Hysteresis: going down happens at once; going up only to a layer the estimate has covered
 *   continuously for `upHoldMs`. A tile growing while bandwidth has long been plentiful is
 *   therefore immediate, a recovering estimate is trusted only after it held.
 * - Only layers that deliver (`live`) or that the SFU paused itself (`paused`, they resume on
 *   demand) are candidates.
 *
 * Switching: a new target becomes `pending`; `update()` returns `requestKeyframe` (send a PLI for
 * that layer) and the current layer keeps flowing until the pending layer's first keyframe packet,
 * which `onPacket()` answers with 'switch': from there on that layer is forwarded. The RtpRewriter
 * remaps on the SSRC change, so the subscriber sees one continuous stream. A PLI that brings no
 * keyframe within `keyframeRetryMs` is repeated.
 */
import { compareLayers, layerCost, sortLayers, type LayerId, type SimulcastLayer, type TileSize } from './SimulcastTypes.ts';

export interface LayerSelectorOptions {
  /** How long the estimate must have covered a higher layer before switching up (ms). Default 4000. */
  upHoldMs: number;
  /** Fraction of the bandwidth estimate a track may use. Default 0.9. */
  headroom: number;
  /** A layer covers a tile when its pixels are at least this fraction of the tile's. Default 0.8. */
  coverage: number;
  /** Repeat the keyframe request when none came within this long (ms). Default 1000. */
  keyframeRetryMs: number;
}

export const defaultLayerSelectorOptions: LayerSelectorOptions = { upHoldMs: 4000, headroom: 0.9, coverage: 0.8, keyframeRetryMs: 1000 };

export interface SelectorInput {
  layers: readonly SimulcastLayer[];
  /** The subscriber's tile for this track; null when hidden. */
  tile: TileSize | null;
  /** Bandwidth available to this track in bit/s (its share of the subscriber's estimate); Infinity when unknown. */
  bandwidth: number;
}

export interface SelectorDecision {
  /** The layer being forwarded now (null: none yet, or the tile is hidden). */
  current: LayerId | null;
  /** The layer waiting for its keyframe, if any. */
  pending: LayerId | null;
  /** The layer the policy wants; differs from current/pending while an upswitch is held back. */
  target: LayerId | null;
  /** Ask the publisher for a keyframe on this layer (PLI to its SSRC). */
  requestKeyframe: LayerId | null;
  /** Not even the smallest layer fits the estimate. */
  starved: boolean;
}

/** What to do with one packet: forward it, drop it, or forward it as the first of a new layer. */
export type PacketVerdict = 'forward' | 'drop' | 'switch';

export class LayerSelector {
  private readonly o: LayerSelectorOptions;
  private current: LayerId | null = null;
  private pending: LayerId | null = null;
  private pendingAskedAt = 0;
  /** Since when the estimate has covered each layer without interruption. */
  private readonly fitsSince = new Map<LayerId, number>();
  /** Layer switches done (for stats and tests). */
  switches = 0;

  constructor(options: Partial<LayerSelectorOptions> = {}) {
    this.o = { ...defaultLayerSelectorOptions, ...options };
    if (!(this.o.headroom > 0 && this.o.coverage > 0 && this.o.upHoldMs >= 0)) throw new RangeError('LayerSelector: headroom and coverage must be > 0, upHoldMs >= 0');
  }

  get currentLayer(): LayerId | null {
    return this.current;
  }
  get pendingLayer(): LayerId | null {
    return this.pending;
  }

  /** Neither forwarding a layer nor waiting for one: `update` with a hidden tile changes nothing (its owner may skip the call). */
  get idle(): boolean {
    return this.current === null && this.pending === null;
  }

  update(input: SelectorInput, now: number): SelectorDecision {
    if (!input.tile || input.tile.width <= 0 || input.tile.height <= 0) return this.hide();
    const layers = usable(input.layers);
    if (layers.length === 0) return this.hide();
    const budget = input.bandwidth * this.o.headroom;
    for (const l of input.layers) {
      if (layerCost(l) <= budget) {
        if (!this.fitsSince.has(l.id)) this.fitsSince.set(l.id, input.bandwidth === Infinity ? -Infinity : now);
      } else this.fitsSince.delete(l.id);
    }
    const wanted = this.wanted(layers, input.tile);
    let target = wanted;
    while (target > 0 && layerCost(layers[target]!) > budget) target -= 1;
    const starved = layerCost(layers[0]!) > budget;
    const targetId = layers[target]!.id;

    const cur = this.current === null ? -1 : layers.findIndex((l) => l.id === this.current);
    let next: number;
    if (cur < 0 || target <= cur) next = target;
    else {
      // Upswitch: the highest layer above the current one that the estimate has covered long enough.
      next = cur;
      for (let i = target; i > cur; i--) {
        const since = this.fitsSince.get(layers[i]!.id);
        if (since !== undefined && now - since >= this.o.upHoldMs) {
          next = i;
          break;
        }
      }
    }
    const nextId = layers[next]!.id;
    let requestKeyframe: LayerId | null = null;
    if (nextId === this.current) this.pending = null;
    else if (nextId !== this.pending) {
      this.pending = nextId;
      this.pendingAskedAt = now;
      requestKeyframe = nextId;
    } else if (now - this.pendingAskedAt >= this.o.keyframeRetryMs) {
      this.pendingAskedAt = now;
      requestKeyframe = nextId;
    }
    return { current: this.current, pending: this.pending, target: targetId, requestKeyframe, starved };
  }

  /**
   * Nothing to show (or nothing arriving): stop forwarding; a later target starts with a keyframe
   * of the layer that fits then. How long the estimate covered each layer is forgotten: an
   * upswitch after the tile shows again waits for a new hold from there (a start from nothing
   * does not wait: it goes straight to the target).
   */
  private hide(): SelectorDecision {
    this.current = null;
    this.pending = null;
    this.fitsSince.clear();
    return { current: null, pending: null, target: null, requestKeyframe: null, starved: false };
  }

  /** The hot path: one packet of layer `layer`; `keyframe` when it starts a keyframe. */
  onPacket(layer: LayerId, keyframe: boolean): PacketVerdict {
    if (layer === this.pending && keyframe) {
      this.current = layer;
      this.pending = null;
      this.switches += 1;
      return 'switch';
    }
    return layer === this.current ? 'forward' : 'drop';
  }

  private wanted(layers: readonly SimulcastLayer[], tile: TileSize): number {
    const need = tile.width * tile.height * this.o.coverage;
    const i = layers.findIndex((l) => l.width * l.height >= need);
    return i < 0 ? layers.length - 1 : i;
  }
}

/** The candidates: layers that deliver or that the SFU paused, smallest first (no copy when the input already is just that). */
function usable(layers: readonly SimulcastLayer[]): readonly SimulcastLayer[] {
  let ok = true;
  for (let i = 0; i < layers.length && ok; i++) {
    const l = layers[i]!;
    ok = (l.live || l.paused === true) && (i === 0 || compareLayers(layers[i - 1]!, l) <= 0);
  }
  return ok ? layers : sortLayers(layers.filter((l) => l.live || l.paused));
}

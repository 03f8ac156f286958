/**
 * Which layers of one published track nobody needs, so the publisher can stop encoding and
 * sending them (the client sets `encodings[i].active = false`; Chromium resumes a layer with a
 * keyframe). Pure: `update()` takes the layers the subscribers' selectors use now and returns the
 * changes to send to the publisher.
 *
 * - A layer in demand (some subscriber's current or pending layer) is resumed at once.
 * - A layer nobody demands is paused only after `pauseAfterMs` without demand, so a subscriber
 *   flipping between two layers does not make the publisher flap.
 * - The smallest layer is never paused (`keepLowest`): a newcomer starts on it without waiting
 *   for a resume, and Chromium's bandwidth probing keeps a reference stream.
 */
import type { LayerSelector } from './LayerSelector.ts';
import type { LayerId } from './SimulcastTypes.ts';

export interface LayerPauserOptions {
  /** A layer unused this long is paused (ms). Default 5000. */
  pauseAfterMs: number;
  /** Never pause the first (smallest) layer. Default true. */
  keepLowest: boolean;
}

export interface PauseChanges {
  pause: LayerId[];
  resume: LayerId[];
}

export class LayerPauser {
  private readonly o: LayerPauserOptions;
  private readonly paused = new Set<LayerId>();
  private readonly unusedSince = new Map<LayerId, number>();

  /** `layers`: the track's layers from smallest to largest. */
  constructor(
    private readonly layers: readonly LayerId[],
    options: Partial<LayerPauserOptions> = {},
  ) {
    this.o = { pauseAfterMs: 5000, keepLowest: true, ...options };
  }

  isPaused(layer: LayerId): boolean {
    return this.paused.has(layer);
  }

  update(demanded: ReadonlySet<LayerId>, now: number): PauseChanges {
    const changes: PauseChanges = { pause: [], resume: [] };
    this.layers.forEach((id, i) => {
      if (demanded.has(id) || (i === 0 && this.o.keepLowest)) {
        this.unusedSince.delete(id);
        if (this.paused.delete(id)) changes.resume.push(id);
        return;
      }
      if (this.paused.has(id)) return;
      const since = this.unusedSince.get(id);
      if (since === undefined) this.unusedSince.set(id, now);
      else if (now - since >= this.o.pauseAfterMs) {
        this.paused.add(id);
        changes.pause.push(id);
      }
    });
    return changes;
  }
}

/** The layers some subscriber forwards or waits for. */
export function demandedLayers(selectors: Iterable<Pick<LayerSelector, 'currentLayer' | 'pendingLayer'>>): Set<LayerId> {
  const out = new Set<LayerId>();
  for (const s of selectors) {
    if (s.currentLayer !== null) out.add(s.currentLayer);
    if (s.pendingLayer !== null) out.add(s.pendingLayer);
  }
  return out;
}

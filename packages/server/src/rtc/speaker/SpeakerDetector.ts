/**
 * Active speakers of one room, from the RFC 6464 levels of each participant's audio packets.
 * No timers: `observe()` per packet (cheap), `tick(now)` from the room every ~100 ms, which
 * smooths, ranks, and emits `dominant` when the dominant speaker changes.
 *
 * - Loudness: a level above `silenceLevel` −dBov counts as silence; below it, the loudness is
 *   `silenceLevel − level` (so −30 dBov is louder than −50). Per tick, each participant's mean
 *   loudness over the packets since the last tick feeds an exponential average with time constant
 *   `smoothingMs`: a cough does not take the floor, a sentence does.
 * - Hysteresis: a challenger takes over only when its score beats the dominant's by `switchRatio`
 *   continuously for `switchAfterMs`, and not sooner than `minHoldMs` after the last change; a
 *   dominant speaker who falls silent keeps the floor until someone speaks.
 * - History: `recent()` lists participants by when they last spoke (score above `activeScore`),
 *   most recent first: last-N's input.
 */
import { Emitter } from '../Emitter.ts';

export interface SpeakerDetectorOptions {
  /** Levels at or above this (−dBov) are silence. Default 70. */
  silenceLevel: number;
  /** Time constant of the smoothing (ms). Default 300. */
  smoothingMs: number;
  /** A challenger must score this many times the dominant's score. Default 1.5. */
  switchRatio: number;
  /** … continuously for this long (ms). Default 400. */
  switchAfterMs: number;
  /** Shortest time between two changes of the dominant speaker (ms). Default 1000. */
  minHoldMs: number;
  /** A smoothed score above this counts as speaking (for history and the challenger). Default 3. */
  activeScore: number;
}

export const defaultSpeakerOptions: SpeakerDetectorOptions = { silenceLevel: 70, smoothingMs: 300, switchRatio: 1.5, switchAfterMs: 400, minHoldMs: 1000, activeScore: 3 };

export interface SpeakerEvents<Id> {
  /** The dominant speaker changed (`previous` null at the first). */
  dominant: [id: Id, previous: Id | null];
}

interface Track {
  sum: number;
  count: number;
  score: number;
  lastSpokeAt: number;
}

export class SpeakerDetector<Id> extends Emitter<SpeakerEvents<Id>> {
  private readonly o: SpeakerDetectorOptions;
  private readonly speakers = new Map<Id, Track>();
  private current: Id | null = null;
  private changedAt = -Infinity;
  private challenger: Id | null = null;
  private challengerSince = 0;
  private lastTick: number | null = null;

  constructor(options: Partial<SpeakerDetectorOptions> = {}, onError?: (err: unknown) => void) {
    super(onError);
    this.o = { ...defaultSpeakerOptions, ...options };
  }

  get dominant(): Id | null {
    return this.current;
  }

  /** One audio packet's level (0 loudest … 127 silence). */
  observe(id: Id, level: number): void {
    let t = this.speakers.get(id);
    if (!t) this.speakers.set(id, (t = { sum: 0, count: 0, score: 0, lastSpokeAt: -Infinity }));
    t.sum += Math.max(0, this.o.silenceLevel - level);
    t.count += 1;
  }

  /** A participant left (or stopped publishing audio). */
  remove(id: Id): void {
    this.speakers.delete(id);
    if (this.challenger === id) this.challenger = null;
    if (this.current === id) this.current = null;
  }

  /** Smoothed score of a participant (0 when silent or unknown). */
  score(id: Id): number {
    return this.speakers.get(id)?.score ?? 0;
  }

  /** Participants by when they last spoke, most recent first (ties: louder first). */
  recent(): Id[] {
    return [...this.speakers.entries()]
      .filter(([, t]) => t.lastSpokeAt > -Infinity)
      .sort(([, a], [, b]) => b.lastSpokeAt - a.lastSpokeAt || b.score - a.score)
      .map(([id]) => id);
  }

  /** Participants by current score, loudest first, silent ones left out. */
  loudest(): Id[] {
    return [...this.speakers.entries()]
      .filter(([, t]) => t.score > this.o.activeScore)
      .sort(([, a], [, b]) => b.score - a.score)
      .map(([id]) => id);
  }

  tick(now: number): void {
    const dt = this.lastTick === null ? 100 : Math.max(0, now - this.lastTick);
    this.lastTick = now;
    const alpha = 1 - Math.exp(-dt / this.o.smoothingMs);
    let best: Id | null = null;
    let bestScore = 0;
    for (const [id, t] of this.speakers) {
      const sample = t.count > 0 ? t.sum / t.count : 0;
      t.sum = 0;
      t.count = 0;
      t.score += alpha * (sample - t.score);
      if (t.score > this.o.activeScore) t.lastSpokeAt = now;
      if (t.score > bestScore) {
        best = id;
        bestScore = t.score;
      }
    }
    if (best === null || bestScore <= this.o.activeScore || best === this.current) {
      this.challenger = null;
      return;
    }
    const currentScore = this.current === null ? 0 : this.score(this.current);
    if (this.current !== null && bestScore < currentScore * this.o.switchRatio) {
      this.challenger = null;
      return;
    }
    if (this.challenger !== best) {
      this.challenger = best;
      this.challengerSince = now;
    }
    const first = this.current === null;
    if (!first && (now - this.challengerSince < this.o.switchAfterMs || now - this.changedAt < this.o.minHoldMs)) return;
    const previous = this.current;
    this.current = best;
    this.changedAt = now;
    this.challenger = null;
    this.emit('dominant', best, previous);
  }
}

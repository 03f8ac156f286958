/**
 * Last-N: which tracks one subscriber receives in a large room. Pure; the room recomputes it when
 * the speaker history or a subscriber's tiles change, and starts / stops DownTracks by the diff.
 *
 * Video: the subscriber's own tiles first (what its UI shows, in the UI's order of priority),
 * then the most recent speakers, then everyone else in join order, until `n` participants are
 * chosen; all their video tracks (camera and screen) are forwarded. The subscriber itself never
 * counts, nor does a participant with no video track (a receive-only or camera-off participant
 * early in the join order must not take a slot from a camera further down). With at most `n`
 * others sending video, all of it is forwarded.
 *
 * Audio: the `audioN` most recent speakers' audio tracks (the dominant speaker is the most recent
 * speaker). Silent participants' audio is silence anyway; it need not travel.
 */

export interface LastNOptions {
  /** Most participants whose video one subscriber receives. Default 9. */
  n: number;
  /** Most participants whose audio one subscriber receives. Default 3. */
  audioN: number;
}

export const defaultLastNOptions: LastNOptions = { n: 9, audioN: 3 };

export interface LastNInput<P, T> {
  subscriber: P;
  /** Everyone in the room, in join order. */
  participants: readonly P[];
  /** Participants by when they last spoke, most recent first (SpeakerDetector.recent()). */
  speakers: readonly P[];
  /** The participants whose tiles the subscriber shows, most important first. */
  tiles: readonly P[];
  videoTracks(p: P): readonly T[];
  audioTracks(p: P): readonly T[];
}

export interface Forwarded<T> {
  video: Set<T>;
  audio: Set<T>;
}

export function selectLastN<P, T>(input: LastNInput<P, T>, options: Partial<LastNOptions> = {}): Forwarded<T> {
  const { n, audioN } = { ...defaultLastNOptions, ...options };
  const present = new Set(input.participants);
  const chosen = new Set<P>();
  for (const list of [input.tiles, input.speakers, input.participants]) {
    for (const p of list) {
      if (chosen.size >= n) break;
      if (p !== input.subscriber && present.has(p) && !chosen.has(p) && input.videoTracks(p).length > 0) chosen.add(p);
    }
  }
  const video = new Set<T>();
  for (const p of chosen) for (const t of input.videoTracks(p)) video.add(t);
  const audio = new Set<T>();
  let heard = 0;
  for (const p of input.speakers) {
    if (heard >= audioN) break;
    if (p === input.subscriber || !present.has(p)) continue;
    heard += 1;
    for (const t of input.audioTracks(p)) audio.add(t);
  }
  return { video, audio };
}

/** What to start and stop to go from `prev` to `next`. */
export function diffSets<T>(prev: ReadonlySet<T>, next: ReadonlySet<T>): { add: T[]; remove: T[] } {
  return { add: [...next].filter((t) => !prev.has(t)), remove: [...prev].filter((t) => !next.has(t)) };
}

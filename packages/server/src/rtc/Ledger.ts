/**
 * A count of the live resources the rtc tree holds (peer connections, tracks, forwarders, timers,
 * participants, rooms). Every owner takes an entry when it creates one and releases it in close();
 * tests and /metrics read the counts to prove that nothing outlives its owner.
 */
export type ResourceKind = 'room' | 'participant' | 'pc' | 'track' | 'downtrack' | 'timer';

export type Release = () => void;

export class Ledger {
  private readonly counts = new Map<ResourceKind, number>();

  /** Take one entry; the returned function gives it back (idempotent). */
  open(kind: ResourceKind): Release {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.counts.set(kind, (this.counts.get(kind) ?? 1) - 1);
    };
  }

  count(kind: ResourceKind): number {
    return this.counts.get(kind) ?? 0;
  }

  snapshot(): Record<ResourceKind, number> {
    return { room: this.count('room'), participant: this.count('participant'), pc: this.count('pc'), track: this.count('track'), downtrack: this.count('downtrack'), timer: this.count('timer') };
  }

  /** A repeating timer counted as a resource until cancelled. */
  interval(fn: () => void, ms: number): () => void {
    const release = this.open('timer');
    const t = setInterval(fn, ms);
    t.unref();
    return () => {
      clearInterval(t);
      release();
    };
  }

  /** A one-shot timer counted as a resource until it fires or is cancelled. */
  timeout(fn: () => void, ms: number): () => void {
    const release = this.open('timer');
    const t = setTimeout(() => {
      release();
      fn();
    }, ms);
    t.unref();
    return () => {
      clearTimeout(t);
      release();
    };
  }
}

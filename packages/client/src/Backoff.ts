/**
 * Exponential backoff with "equal jitter": the n-th delay is uniformly drawn from
 * [d/2, d] where d = min(maxMs, initialMs * factor^n). Jitter spreads the reconnects of many clients
 * after a node restarts, so they do not arrive as one wave.
 */
export interface BackoffOptions {
  /** First delay before jitter, ms. Default 250. */
  initialMs: number;
  /** Largest delay, ms. Default 15000. */
  maxMs: number;
  /** Growth per attempt. Default 2. */
  factor: number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 250, maxMs: 15_000, factor: 2 };

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call grows the next one. */
  next(): number {
    const d = Math.min(this.opts.maxMs, this.opts.initialMs * this.opts.factor ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 64);
    return Math.round(d / 2 + (this.random() * d) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

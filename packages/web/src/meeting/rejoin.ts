/**
 * Rejoining a meeting by itself. A participation breaks when a peer connection fails (ICE consent
 * lost under load), when the server ends it (its `closed` frame: its side of a pc failed), or when
 * the Parley link drops (the server ends a participation with its session; the SDK resumes the
 * chat stream on a new session, which holds no participant). The meeting then keeps its screen,
 * says "Reconnecting…" and runs `rejoin()`: a bounded number of attempts with backoff, each a fresh
 * `rtc.join` with the same local tracks that counts only once media connects again. When they are
 * used up the user gets the manual "Join again".
 *
 * No DOM and no WebRTC here: the steps are injected (MeetingSession provides them), so the policy
 * is tested in Node (packages/web/test/rejoin.test.ts).
 */
import { Backoff, ParleyError, type BackoffOptions } from '@parley/client';

export interface RejoinPolicy {
  /** Join attempts per outage before giving up. Default 5. */
  attempts: number;
  /** Delay before each attempt after the first (equal jitter). Default { initialMs: 1000, maxMs: 8000, factor: 2 }. */
  backoff: BackoffOptions;
  /** A pc that stays 'disconnected' this long (ms) counts as failed; ICE often recovers sooner by itself. Default 4000. */
  disconnectedMs: number;
  /** An attempt whose pcs have not connected after this long (ms) failed. Default 20000. */
  connectTimeoutMs: number;
  /** Waiting longer than this (ms) for the Parley link to come back gives up. Default 60000. */
  linkTimeoutMs: number;
  /**
   * A rejoined participation that breaks sooner than this (ms) counts as one more failed attempt
   * (so a pc that fails as soon as it connects ends at the bound); one that lasted longer starts a
   * new outage with a fresh count (a pc that fails every 30 s under load keeps being rejoined). Default 15000.
   */
  stableMs: number;
}

export const defaultRejoinPolicy: RejoinPolicy = {
  attempts: 5,
  backoff: { initialMs: 1000, maxMs: 8000, factor: 2 },
  disconnectedMs: 4000,
  connectTimeoutMs: 20_000,
  linkTimeoutMs: 60_000,
  stableMs: 15_000,
};

export interface RejoinSteps {
  /** Resolves true once the Parley link is up, false when it did not come back within `timeoutMs`. */
  link(timeoutMs: number): Promise<boolean>;
  /**
   * Attempt `n`: resolves true once media flows again, false when it failed in a way worth another
   * try (timeout, lost link, failed pc); rejects when retrying cannot help (see `isPermanent`).
   */
  attempt(n: number): Promise<boolean>;
  /** Wait `ms`; resolves early when cancelled. */
  sleep(ms: number): Promise<void>;
  /** True once the user left or the session closed: stop at once. */
  cancelled(): boolean;
}

export type RejoinOutcome =
  | { ok: true; attempts: number }
  | { ok: false; why: 'cancelled' | 'link' | 'attempts'; attempts: number }
  | { ok: false; why: 'refused'; attempts: number; error: unknown };

/**
 * Run attempts `first`..`policy.attempts` (a backoff before each but the very first of an outage)
 * until one succeeds, the link stays away, an attempt is refused for good, or `steps.cancelled()`.
 */
export async function rejoin(policy: RejoinPolicy, steps: RejoinSteps, first = 1, random?: () => number): Promise<RejoinOutcome> {
  const backoff = new Backoff(policy.backoff, random);
  for (let i = 1; i < first; i++) backoff.next();
  let n = first;
  for (; n <= policy.attempts; n++) {
    if (n > 1) await steps.sleep(backoff.next());
    if (steps.cancelled()) return { ok: false, why: 'cancelled', attempts: n - 1 };
    const up = await steps.link(policy.linkTimeoutMs);
    if (steps.cancelled()) return { ok: false, why: 'cancelled', attempts: n - 1 };
    if (!up) return { ok: false, why: 'link', attempts: n - 1 };
    let ok: boolean;
    try {
      ok = await steps.attempt(n);
    } catch (error) {
      if (steps.cancelled()) return { ok: false, why: 'cancelled', attempts: n };
      return { ok: false, why: 'refused', attempts: n, error };
    }
    if (steps.cancelled()) return { ok: false, why: 'cancelled', attempts: n };
    if (ok) return { ok: true, attempts: n };
  }
  return { ok: false, why: 'attempts', attempts: n - 1 };
}

/** Join errors that another attempt cannot fix: not (or no longer) a member, no such room, full, no streaming link. */
export function isPermanent(err: unknown): boolean {
  const code = err instanceof ParleyError ? err.code : (err as { code?: unknown })?.code;
  return code === 'NOT_MEMBER' || code === 'NOT_FOUND' || code === 'FORBIDDEN' || code === 'INVALID' || code === 'UNAUTHORIZED';
}

/** Reasons of the server's `closed` frame after which rejoining makes sense (a pc of ours failed there, or the node stopped). */
export function isRecoverable(reason: string): boolean {
  return /peer connection|negotiation failed|room closed/.test(reason);
}

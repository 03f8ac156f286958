/**
 * Transactions: every Store method runs as one transaction on one pooled client. Serialization
 * failures and deadlocks are retried a few times with jittered backoff; a connection that fails
 * before the transaction's first round trip came back is retried on another client (nothing of
 * it can be committed). Anything that fails later is reported, never retried: a COMMIT whose
 * outcome is unknown must not run twice. A transaction may send its BEGIN with its first
 * statement and its COMMIT with its last (bundle.ts).
 */
import type { Pool, PoolClient } from 'pg';
import { isRetryable, isUnavailable, toStoreError } from './errors.ts';
import { trackTx, untrackTx } from './bundle.ts';
import { refreshPlans } from './plans.ts';
import { query } from './prepared.ts';

const ATTEMPTS = 6;

function pause(attempt: number): Promise<void> {
  const ms = Math.min(100, 2 ** attempt) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface TxOptions {
  /** The statement that opens the transaction. Default BEGIN. */
  begin?: string;
  /**
   * Send the BEGIN with the first statement (bundle.ts): one round trip less, but that statement
   * is planned on every call. For transactions whose first statement is cheap to plan.
   */
  bundleBegin?: boolean;
}

export async function inTx<T>(pool: Pool, fn: (client: PoolClient, attempt: number) => Promise<T>, opts: TxOptions = {}): Promise<T> {
  const begin = opts.begin ?? 'BEGIN';
  for (let attempt = 1; ; attempt++) {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw toStoreError(err);
    }
    let broken = false;
    // A checked-out client whose server goes away between two queries emits 'error' itself (the
    // pool listens only to idle ones); unheard, that would crash the process.
    const onError = () => (broken = true);
    client.on('error', onError);
    const st = trackTx(client, opts.bundleBegin ? begin : null);
    let sentBegin = false;
    try {
      await refreshPlans(client);
      if (!opts.bundleBegin) {
        sentBegin = true;
        await client.query(begin);
        st.begun = true;
      }
      const result = await fn(client, attempt);
      // Nothing to commit if no statement ran (the BEGIN is still owed) or the last one committed.
      if (st.begin === null && !st.commitSent) await client.query('COMMIT');
      return result;
    } catch (err) {
      broken = broken || isUnavailable(err);
      // A bundled BEGIN went out once taken (its statement may have failed after it ran).
      sentBegin = sentBegin || (opts.bundleBegin === true && st.begin === null);
      if (sentBegin && !broken) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
      }
      // A connection that broke is retried only if it broke before the first round trip came back
      // (a bundled BEGIN's statement included: nothing of it can be committed) and no COMMIT went
      // out; later breaks are reported: a COMMIT whose outcome is unknown must not run twice.
      const again = broken ? !st.begun && !st.commitSent : isRetryable(err);
      if (!again || attempt >= ATTEMPTS) throw toStoreError(err);
    } finally {
      untrackTx(client);
      client.off('error', onError);
      // A broken client is destroyed rather than returned to the pool.
      client.release(broken);
    }
    await pause(attempt);
  }
}

/**
 * A read made of one statement: it is its own transaction (autocommit), so no BEGIN/COMMIT round
 * trips. Reads change nothing, so one that hit a broken connection is retried on another client.
 */
export async function inRead<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw toStoreError(err);
    }
    let broken = false;
    const onError = () => (broken = true);
    client.on('error', onError);
    try {
      await refreshPlans(client);
      return await fn(client);
    } catch (err) {
      broken = broken || isUnavailable(err);
      if (!(broken || isRetryable(err)) || attempt >= ATTEMPTS) throw toStoreError(err);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
    await pause(attempt);
  }
}

/**
 * Locks rows in id order (FOR NO KEY UPDATE, which foreign-key checks do not wait for), so that
 * transactions locking overlapping sets cannot deadlock. Every writer takes conversations first,
 * then users, then devices.
 */
export async function lockRows(client: PoolClient, table: 'users' | 'conversations' | 'devices', ids: readonly string[]): Promise<void> {
  // One row needs no separate lock: the UPDATE that follows takes it at the same point of the order.
  if (ids.length < 2) return;
  await query(client, `SELECT id FROM ${table} WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`, [ids]);
}

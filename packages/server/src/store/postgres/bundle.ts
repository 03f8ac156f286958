/**
 * Fewer round trips per transaction: its BEGIN goes out with its first statement and its COMMIT
 * with its last, as one simple-protocol query ("BEGIN; stmt", "stmt; COMMIT"). Under load every
 * round trip costs milliseconds of scheduling on a busy machine, and a large group's append holds
 * its conversation's row lock across all of them.
 *
 * The simple protocol takes no parameters, so the statement's `$n` are replaced, in one pass over
 * the statement's own text, by literals: pg's escapeLiteral over pg's own encoding of the value
 * (utils.prepareValue), which is the text node-postgres sends as the parameter otherwise. Values
 * are never re-scanned, so a `$1` inside a value stays text. The cost: a bundled statement is
 * parsed and planned on every call (no named statement), so callers bundle cheap statements (a
 * function call) on hot paths.
 *
 * Contract with tx.ts: a transaction tracked with an owed BEGIN sends none of its own; the first
 * statement run through `query` (prepared.ts) or `queryAndCommit` carries it. `queryAndCommit`
 * ends the transaction: nothing may run on the client after it, and tx.ts sends no COMMIT.
 */
import pg from 'pg';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';

/** What tx.ts and the statements of one transaction share about it. */
export interface TxState {
  /** The BEGIN still owed (sent with the next statement), or null once sent or never deferred. */
  begin: string | null;
  /** The transaction is open on the server (its BEGIN came back). */
  begun: boolean;
  /** A COMMIT went out with a statement: the transaction is over, its outcome known only if that call returned. */
  commitSent: boolean;
}

const states = new WeakMap<PoolClient, TxState>();

/** A transaction starts on `client`; `owedBegin` is its BEGIN when it goes out with the first statement. */
export function trackTx(client: PoolClient, owedBegin: string | null): TxState {
  const st: TxState = { begin: owedBegin, begun: owedBegin === null, commitSent: false };
  states.set(client, st);
  return st;
}

/** The transaction is over (committed or rolled back): later statements run on their own. */
export function untrackTx(client: PoolClient): void {
  states.delete(client);
}

/** The BEGIN this client still owes its transaction, taken (the caller sends it). */
export function takeBegin(client: PoolClient): string | null {
  const st = states.get(client);
  if (!st || st.begin === null) return null;
  const begin = st.begin;
  st.begin = null;
  return begin;
}

/** pg's own parameter encoder: exported by the package at runtime, missing from @types/pg. */
const prepareValue = (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils.prepareValue;

/** One value as a literal: the text node-postgres would send for it as a parameter, quoted. */
export function literal(value: unknown): string {
  const text = prepareValue(value);
  if (text === null || text === undefined) return 'NULL';
  if (typeof text !== 'string') throw new TypeError('bundle: only text-encoded parameters can be inlined');
  return pg.escapeLiteral(text);
}

/** `text` with each `$n` replaced by the literal of `values[n - 1]`. */
export function inline(text: string, values: readonly unknown[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const i = Number(n) - 1;
    if (!(i >= 0 && i < values.length)) throw new RangeError(`bundle: no value for $${n}`);
    return literal(values[i]);
  });
}

/** Runs `[BEGIN; ]text` as one simple query and returns the statement's result. */
export async function queryWithBegin<R extends QueryResultRow>(client: PoolClient, begin: string, text: string, values: readonly unknown[]): Promise<QueryResult<R>> {
  const results = (await client.query(`${begin}; ${inline(text, values)}`)) as unknown as QueryResult<R>[];
  const st = states.get(client);
  if (st) st.begun = true;
  return results[1]!;
}

/**
 * Runs `text; COMMIT` (with the BEGIN too if still owed) as one round trip: the transaction ends
 * with it. A failure of the statement skips the COMMIT (the caller rolls back).
 */
export async function queryAndCommit<R extends QueryResultRow>(client: PoolClient, text: string, values: readonly unknown[]): Promise<QueryResult<R>> {
  const begin = takeBegin(client);
  const st = states.get(client);
  if (st) st.commitSent = true;
  const results = (await client.query(`${begin !== null ? `${begin}; ` : ''}${inline(text, values)}; COMMIT`)) as unknown as QueryResult<R>[];
  return results[begin !== null ? 1 : 0]!;
}

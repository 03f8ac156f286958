/**
 * Classifies errors from `pg` for the Store contract: backend/connection failures become
 * ParleyError('UNAVAILABLE') (retryable by the caller); serialization failures and deadlocks are
 * retried inside the store; everything else is a bug or a domain refusal and passes through.
 */
import { ParleyError } from '@parley/protocol';

/** Node socket errors meaning the server cannot be reached or the link broke. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * SQLSTATEs of an unavailable backend: admin/crash shutdown, cannot connect now, too many
 * connections, out of resources, read-only standby after failover.
 */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53100', '53200', '53400', '25006']);

/** pg reports a few connection failures without a code; recognise them by message. */
const MESSAGES = /connection terminated|timeout exceeded when trying to connect|not queryable|after calling end on the pool|Connection refused/i;

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isUnavailable(err: unknown): boolean {
  if (err instanceof ParleyError) return err.code === 'UNAVAILABLE';
  const code = codeOf(err);
  if (code !== undefined && (SOCKET_CODES.has(code) || SQLSTATES.has(code) || code.startsWith('08'))) return true;
  if (err instanceof AggregateError) return err.errors.some(isUnavailable);
  return err instanceof Error && MESSAGES.test(err.message);
}

/**
 * A transaction holding users' locks found conversations it must also hold (the open runs of those
 * users, to close them) held by another transaction (parley_settle's kind 9, log.ts's holdConvs).
 * It rolls back rather than wait out of lock order, and its next attempt locks `convs` first, with
 * its own conversations (every writing Store method of PostgresStore does).
 */
export class NeedsLocks extends Error {
  constructor(readonly convs: readonly string[]) {
    super(`conversations held elsewhere: ${convs.join(', ')}`);
  }
}

/**
 * Worth running the whole transaction again: a serialization failure, a deadlock, conversations to
 * lock first (NeedsLocks), or a racing insert of the same (sender, cmid) — the retry then finds the
 * committed copy and reports a duplicate.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof NeedsLocks) return true;
  const code = codeOf(err);
  if (code === '40001' || code === '40P01') return true;
  return code === '23505' && (err as { constraint?: string }).constraint === 'messages_idem';
}

export function isUniqueViolation(err: unknown, constraint: string): boolean {
  return codeOf(err) === '23505' && (err as { constraint?: string }).constraint === constraint;
}

export function isForeignKeyViolation(err: unknown): boolean {
  return codeOf(err) === '23503';
}

/** What a Store method rejects with. */
export function toStoreError(err: unknown): unknown {
  if (err instanceof ParleyError) return err;
  if (isUnavailable(err) || isRetryable(err)) {
    return new ParleyError('UNAVAILABLE', `store unavailable: ${err instanceof Error ? err.message : String(err)}`);
  }
  return err;
}

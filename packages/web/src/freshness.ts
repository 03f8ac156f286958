/**
 * Which parts of a whole-list answer may be applied, when single entries are fetched (or changed
 * locally) beside it.
 *
 * The store loads the conversation list on every (re)connect, and fetches single conversations
 * on `conv` events, gaps and commands. A list fetch may run while an event comes in and that
 * conversation's own fetch starts and answers: the list's copy then predates the change the event
 * was about (a member removed, the user added to or removed from a group), and applied after the
 * single answer it would undo that change, with nothing left to correct it.
 *
 * Contract: every single-entry fetch (and every local change from a command's answer) calls
 * `touch(key)` when it starts; a list fetch takes `mark()` when it starts. When the list answers,
 * `listChanges` says which listed entries to take and which held entries to drop: only those not
 * touched since the list fetch started. An entry touched before it started is older than the
 * list's copy and is replaced; one touched after keeps what its own fetch brings (that fetch
 * started after the change, or is re-run by the Refetcher until one has). Those are returned as
 * `recheck`: their own fetch may have failed for a passing reason (offline) with the list's copy
 * dropped meanwhile, so the caller fetches them once more.
 */
export class Freshness<K> {
  private clock = 0;
  private readonly touched = new Map<K, number>();

  /** A fetch of just `key`, or a local change to it, starts now. */
  touch(key: K): void {
    this.touched.set(key, ++this.clock);
  }

  /** A fetch of the whole list starts now: its mark, for `listChanges`. */
  mark(): number {
    return ++this.clock;
  }

  /** Whether the list fetched from `mark` on may set (or remove) `key`. */
  listMay(key: K, mark: number): boolean {
    return (this.touched.get(key) ?? 0) < mark;
  }
}

/**
 * Of a list answer fetched from `mark`: the listed keys to take, the held keys it no longer lists
 * to drop, and the keys (listed or held) left alone because they were touched since `mark`.
 */
export function listChanges<K>(held: Iterable<K>, listed: readonly K[], fresh: Freshness<K>, mark: number): { take: K[]; drop: K[]; recheck: K[] } {
  const inList = new Set(listed);
  const take: K[] = [];
  const drop: K[] = [];
  const recheck: K[] = [];
  for (const k of listed) (fresh.listMay(k, mark) ? take : recheck).push(k);
  for (const k of held) if (!inList.has(k)) (fresh.listMay(k, mark) ? drop : recheck).push(k);
  return { take, drop, recheck };
}

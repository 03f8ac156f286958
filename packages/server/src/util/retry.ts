/**
 * Retrying a call that may fail for a moment (a Redis command timing out while a node handles a
 * burst of disconnects): up to `delaysMs.length` more attempts after the first, waiting each delay
 * in turn; the last failure is thrown. The waits keep the process alive (seconds at most).
 */
export async function retry<T>(fn: () => Promise<T>, delaysMs: readonly number[]): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const delay = delaysMs[i];
      if (delay === undefined) throw err;
      await new Promise<void>((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The cleanup retries of a closed connection: ~7 s in all, past a 2 s command timeout or two. */
export const CLEANUP_RETRY_MS: readonly number[] = [500, 1500, 5000];

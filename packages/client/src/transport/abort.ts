/**
 * A signal that aborts when `parent` does or after `ms`, whichever comes first; `done()` releases
 * the timer. (AbortSignal.any / AbortSignal.timeout would do, but are missing in older browsers.)
 */
export function timeoutSignal(parent: AbortSignal, ms: number): { signal: AbortSignal; done(): void } {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort(parent.reason);
  if (parent.aborted) ctrl.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => ctrl.abort(new Error(`timed out after ${ms} ms`)), ms);
  return {
    signal: ctrl.signal,
    done() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

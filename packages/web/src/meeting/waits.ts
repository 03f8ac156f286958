/**
 * Waits of the automatic rejoin, each cut short when the meeting closes: `onStop(fn)` registers
 * `fn` to run at that moment and returns its unregistration.
 */
import type { Client } from '@parley/client';

type OnStop = (fn: () => void) => () => void;

/** True once the client's link is up; false after `ms` without it, when the client stops for good, or on stop. */
export function waitForLink(client: Client, ms: number, onStop: OnStop): Promise<boolean> {
  if (client.state === 'connected') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), ms);
    const off = client.on('state', ({ state }) => {
      if (state === 'connected') done(true);
      else if (state === 'closed' || state === 'unauthorized') done(false);
    });
    const offStop = onStop(() => done(false));
    const done = (ok: boolean) => {
      clearTimeout(timer);
      off();
      offStop();
      resolve(ok);
    };
  });
}

/** Resolves after `ms`, or at once on stop. */
export function pause(ms: number, onStop: OnStop): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(), ms);
    const offStop = onStop(() => done());
    const done = () => {
      clearTimeout(timer);
      offStop();
      resolve();
    };
  });
}

/**
 * A bench client's ack schedule, the SDK's defaults (packages/client EventStream): an ack goes
 * `delayMs` after an event, and while events keep coming at most one per `intervalMs`.
 *
 * Contract: call `event()` for every event received; `send()` is called with nothing pending in
 * between, and reads the newest cursor itself (acks are cumulative). `stop()` cancels a pending ack.
 */
export function acker(send: () => void, delayMs = 50, intervalMs = 250): { event(): void; stop(): void } {
  let timer: NodeJS.Timeout | null = null;
  let sentAt = -Infinity;
  const fire = () => {
    timer = null;
    sentAt = Date.now();
    send();
  };
  return {
    event() {
      if (timer) return;
      timer = setTimeout(fire, Math.max(delayMs, sentAt + intervalMs - Date.now()));
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

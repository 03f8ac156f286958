/**
 * Keeps one device's messages in the order it sent them when the store fails for a moment.
 *
 * Sends are pipelined: a device may have several in flight. If one fails with a temporary error
 * (the store was unavailable) while later ones are still on their way, those could be stored first
 * and the conversation would show the device's messages out of order. So after a temporary failure
 * the device is blocked: every send fails with UNAVAILABLE until the failed message itself comes
 * back (same cmid) — the client resends its outbox in order, so that retry is the first in line.
 * A block this node holds is forgotten after `ttlMs`, so a device that never retries costs nothing.
 */
import { ParleyError, type DeviceId } from '@parley/protocol';

export class SendOrder {
  private readonly blocked = new Map<DeviceId, { cmid: string; until: number }>();

  constructor(private readonly ttlMs = 60_000) {}

  /** Call synchronously before submitting a send. Throws UNAVAILABLE while blocked on another cmid. */
  admit(device: DeviceId, cmid: string): void {
    const b = this.blocked.get(device);
    if (!b) return;
    if (b.cmid === cmid || Date.now() > b.until) {
      this.blocked.delete(device);
      return;
    }
    throw new ParleyError('UNAVAILABLE', `an earlier send (${b.cmid}) failed; resend it first`);
  }

  /** A send failed temporarily: hold the device's later sends until this one is retried. */
  failed(device: DeviceId, cmid: string): void {
    if (!this.blocked.has(device)) this.blocked.set(device, { cmid, until: Date.now() + this.ttlMs });
  }

  get size(): number {
    return this.blocked.size;
  }
}

/**
 * What this node remembers about a long-polling device between two of its polls. Each poll is a
 * short Session of its own; three things must outlive it:
 *
 * - Presence of the device itself. A device counts as online while one of its polls is held, and
 *   between an answered poll and the next one for at most `graceMs`, so that the round trip
 *   between two polls does not show to watchers as offline/online flapping. A poll the client
 *   aborts (it went away) ends that at once. While online, the device is a member of the hub (a
 *   "bridge" entry): that keeps the user routed to this node in the gap, keeps the presence TTL
 *   refreshed by the hub's heartbeat, and keeps a poll's end from counting as the user's last
 *   session (which would cancel what the user is typing).
 * - Ephemeral frames that arrive in the gap. Typing and presence notices that find no poll held
 *   wait in a mailbox (latest per conversation and typist, latest per watched user: bounded) and
 *   go out with the next poll. Once the device is offline nothing is kept: ephemeral, as designed.
 * - Presence watches. `presence.sub` over `POST /v1/cmd` lands here (through `linksOf`), not on
 *   the poll's Session, and stays until the device has not polled for `idleMs`.
 *
 * Nothing here is needed for correctness of the log: the cursor travels with each poll, so any
 * node can serve any poll. Watches are per node; a client whose poll lands on another node (the
 * welcome's `node` changed) subscribes again, as it does after any reconnect.
 */
import type { DeviceId, UserId } from '@parley/protocol';
import type { Logger } from 'pino';
import type { Principal } from '../auth/tokens.ts';
import type { Notice } from '../broker/Broker.ts';
import type { SessionLink } from '../chat/Commands.ts';
import type { PresenceService } from '../chat/PresenceService.ts';
import type { Hub, HubSession } from '../session/Hub.ts';
import { Session } from '../session/Session.ts';
import { randomId } from '../util/ids.ts';

export interface PollDevicesOptions {
  /** A device that has not polled for this long is forgotten with its watches (ms). Default 300000. */
  idleMs: number;
  /** How long an answered poll keeps the device online while the next poll is on its way (ms). Default 2000. */
  graceMs: number;
  /** Most notices kept for the next poll. Default 256. */
  mailboxSize: number;
}

export const defaultPollDevicesOptions: PollDevicesOptions = { idleMs: 300_000, graceMs: 2000, mailboxSize: 256 };

export class PollDevice implements HubSession, SessionLink {
  /** The device's id in the hub's watcher lists. */
  readonly id = randomId('lpw_', 9);
  readonly user: UserId;
  readonly device: DeviceId;
  lastPoll = Date.now();
  /** Held polls, each with its Session once open. */
  private readonly held = new Map<object, Session | null>();
  private readonly mailbox = new Map<string, Notice>();
  private online = false;
  private grace: NodeJS.Timeout | null = null;
  /** Hub and presence calls of this device, in order. */
  private ops: Promise<void> = Promise.resolve();
  /** The hub member while online; its id is also the presence connection id. */
  private readonly bridge: HubSession;

  constructor(
    p: Principal,
    private readonly registry: PollDevices,
  ) {
    this.user = p.user;
    this.device = p.device;
    this.bridge = {
      id: randomId('lp_', 9),
      user: this.user,
      device: this.device,
      notify: (n) => this.fromBridge(n),
      // A held poll's Session is a hub member of its own, closed (and told why) by whoever closes
      // sessions; closing it from here first would cut the drain's `reconnect` frame off.
      close: () => {},
    };
  }

  get holding(): boolean {
    return this.held.size > 0;
  }

  // --- the polls of this device ---

  /** A poll arrived: the device is online (again). Call before the poll's Session opens. */
  begin(poll: object): void {
    this.lastPoll = Date.now();
    this.held.set(poll, null);
    this.clearGrace();
    if (this.online) return;
    this.online = true;
    const { hub, presence } = this.registry;
    this.op(async () => {
      await hub.add(this.bridge);
      await presence.connected(this.user, this.bridge.id);
    });
  }

  /** The poll's session is open: what waited goes out on it. */
  bind(poll: object, session: Session): void {
    if (!this.held.has(poll)) return;
    this.held.set(poll, session);
    const waiting = [...this.mailbox.values()];
    this.mailbox.clear();
    for (const n of waiting) session.notify(n);
  }

  /** The poll ended: answered (`aborted` false) or dropped by the client. */
  finish(poll: object, aborted: boolean): void {
    if (!this.held.delete(poll) || this.held.size > 0) return;
    this.lastPoll = Date.now();
    if (aborted) {
      this.release();
      return;
    }
    this.clearGrace();
    this.grace = setTimeout(() => this.release(), this.registry.options.graceMs);
    this.grace.unref();
  }

  /** Go offline now, unless a poll is held. */
  release(): void {
    this.clearGrace();
    if (!this.online || this.held.size > 0) return;
    this.online = false;
    this.mailbox.clear();
    const { hub, presence } = this.registry;
    this.op(async () => {
      await hub.remove(this.bridge);
      await presence.disconnected(this.user, this.bridge.id);
    });
  }

  private clearGrace(): void {
    if (this.grace) clearTimeout(this.grace);
    this.grace = null;
  }

  private op(fn: () => Promise<void>): void {
    this.ops = this.ops.then(fn).catch((err: unknown) => this.registry.log.warn({ err }, 'poll device update failed'));
  }

  /** Resolves when the hub and presence calls made so far have run. */
  settled(): Promise<void> {
    return this.ops;
  }

  private keep(key: string, notice: Notice): void {
    this.mailbox.delete(key);
    this.mailbox.set(key, notice);
    if (this.mailbox.size > this.registry.options.mailboxSize) {
      const oldest = this.mailbox.keys().next().value;
      if (oldest !== undefined) this.mailbox.delete(oldest);
    }
  }

  /** Notices for the user (the bridge is in the hub's user list). */
  private fromBridge(notice: Notice): void {
    if (notice.type === 'revoke') {
      // The held polls' Sessions close themselves on the same notice.
      this.registry.forget(this);
      return;
    }
    // A held poll's Session is in the hub too and got the notice itself; events come by cursor.
    if (notice.type !== 'typing' || !this.online || this.held.size > 0) return;
    this.keep(`t:${notice.conv}:${notice.from}`, notice);
  }

  // --- HubSession: as a watcher, the hub hands this device's presence notices here ---

  notify(notice: Notice): void {
    if (notice.type !== 'presence') return;
    const open = [...this.held.values()].filter((s): s is Session => s !== null);
    for (const s of open) s.notify(notice);
    if (open.length === 0 && this.online) this.keep(`p:${notice.user}`, notice);
  }

  /** Nothing to close: the watcher entry ends with `PollDevices.forget`. */
  close(): void {}

  // --- SessionLink: what `POST /v1/cmd` does to this device's stream ---

  /**
   * No clamp: a poll's own cursor acks without one (it may have been answered by another node),
   * so clamping the same ack over POST would protect nothing. The store clamps to the log head.
   */
  sentCursor(): number {
    return Number.MAX_SAFE_INTEGER;
  }
  watch(users: readonly UserId[]): void {
    this.registry.hub.watch(this, users);
  }
  unwatch(users: readonly UserId[]): void {
    this.registry.hub.unwatch(this, users);
    for (const u of users) this.mailbox.delete(`p:${u}`);
  }
}

export class PollDevices {
  readonly options: PollDevicesOptions;
  private readonly devices = new Map<DeviceId, PollDevice>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly hub: Hub,
    readonly presence: PresenceService,
    readonly log: Logger,
    options: Partial<PollDevicesOptions> = {},
  ) {
    this.options = { ...defaultPollDevicesOptions, ...options };
    const o = this.options;
    if (!(o.idleMs > 0 && o.graceMs >= 0 && o.mailboxSize > 0)) throw new RangeError('poll device options');
    this.sweeper = setInterval(() => this.sweep(), Math.min(30_000, o.idleMs));
    this.sweeper.unref();
  }

  /** The device's record, created on its first poll here. */
  of(p: Principal): PollDevice {
    let d = this.devices.get(p.device);
    if (!d || d.user !== p.user) {
      d = new PollDevice(p, this);
      this.devices.set(p.device, d);
    }
    return d;
  }

  /**
   * The links `POST /v1/cmd` gives a command of this device: its streaming Sessions on this node,
   * and, in place of held polls, the device record, so that watches outlive a poll.
   */
  linksOf(p: Principal, members: readonly HubSession[]): SessionLink[] {
    const links: SessionLink[] = members.filter((s): s is Session => s instanceof Session && s.transport.name !== 'longpoll');
    const d = this.devices.get(p.device);
    if (d && d.user === p.user) links.push(d);
    return links;
  }

  private sweep(): void {
    const cutoff = Date.now() - this.options.idleMs;
    for (const d of [...this.devices.values()]) if (d.lastPoll <= cutoff && !d.holding) this.forget(d);
  }

  /** Drop the device: offline now, watches end. */
  forget(d: PollDevice): void {
    if (this.devices.get(d.device) === d) this.devices.delete(d.device);
    d.release();
    void this.hub.remove(d).catch((err: unknown) => this.log.warn({ err }, 'poll device cleanup failed'));
  }

  /** Node shutdown: every device goes offline and its watches end. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.devices.values()];
    for (const d of all) this.forget(d);
    await Promise.all(all.map((d) => d.settled()));
  }
}

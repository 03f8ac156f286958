/**
 * This node's registry of live sessions. It subscribes to the node's broker topic and hands each
 * notice to the sessions it concerns; it keeps the Router and presence subscriptions in step with
 * which users and watched users this node holds.
 */
import type { DeviceId, UserId } from '@parley/protocol';
import type { Logger } from 'pino';
import { Topics, type Broker, type Notice } from '../broker/Broker.ts';
import type { Router } from '../routing/Router.ts';
import type { Presence } from '../presence/Presence.ts';
import { CLEANUP_RETRY_MS, retry } from '../util/retry.ts';

/** What the hub needs from a session. */
export interface HubSession {
  readonly id: string;
  readonly user: UserId;
  readonly device: DeviceId;
  notify(notice: Notice): void;
  close(code: number, reason: string): void;
  /** Sessions that stream a log: when they last heard a notice, and how to check the store. */
  lastHeard?: number;
  resync?(): Promise<void>;
}

/**
 * A session quiet for this long checks its cursor against the store (a safety net for notices the
 * at-most-once broker lost without noticing). After a broker reconnect every session checks at once.
 */
export const IDLE_CHECK_MS = 60_000;
const SWEEP_MS = 5_000;

export class Hub {
  private readonly byUser = new Map<UserId, Set<HubSession>>();
  private readonly watchers = new Map<UserId, Set<HubSession>>();
  private readonly presenceSubs = new Map<UserId, Promise<() => Promise<void>>>();
  private unsubscribeNode: (() => Promise<void>) | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly node: string,
    private readonly broker: Broker,
    private readonly router: Router,
    private readonly presence: Presence,
    private readonly log: Logger,
    private readonly heartbeatMs = 10_000,
  ) {}

  async start(): Promise<void> {
    this.unsubscribeNode = await this.broker.subscribe(Topics.node(this.node), (n) => this.deliver(n));
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
    this.sweeper = setInterval(() => this.sweep(Date.now() - IDLE_CHECK_MS), SWEEP_MS);
    this.sweeper.unref();
    // Routes and presence entries may have expired and notices were lost: restore and resync.
    this.broker.onReconnect(() => {
      void this.beat();
      this.sweep(Number.POSITIVE_INFINITY);
    });
  }

  /** Resync every streaming session that has been quiet since before `quietSince`. */
  private sweep(quietSince: number): void {
    for (const set of this.byUser.values()) {
      for (const s of set) if (s.resync && (s.lastHeard ?? 0) < quietSince) void s.resync();
    }
  }

  /**
   * The lists the heartbeat hands to the router and presence, rebuilt only when sessions came or
   * went since the last beat: with node-level liveness (Redis) a beat writes O(1) per node plus a
   * small slice of these lists, so rebuilding them for an idle node would be most of its cost.
   */
  private lists: { users: UserId[]; conns: { user: UserId; connId: string }[] } | null = null;

  private heartbeatLists(): { users: UserId[]; conns: { user: UserId; connId: string }[] } {
    if (this.lists) return this.lists;
    const users = [...this.byUser.keys()];
    const conns: { user: UserId; connId: string }[] = [];
    for (const set of this.byUser.values()) for (const s of set) conns.push({ user: s.user, connId: s.id });
    return (this.lists = { users, conns });
  }

  private async beat(): Promise<void> {
    try {
      const { users, conns } = this.heartbeatLists();
      await Promise.all([this.router.heartbeat(this.node, users), this.presence.heartbeat(this.node, conns)]);
    } catch (err) {
      this.log.warn({ err }, 'routing heartbeat failed');
    }
  }

  /** Hands a notice to the sessions on this node it concerns (from the broker, or from Delivery directly). */
  deliver(notice: Notice): void {
    if (notice.type === 'batch') {
      for (const n of notice.notices) this.deliver(n);
      return;
    }
    const sessions = notice.type === 'presence' ? this.watchers.get(notice.user) : this.byUser.get(notice.user);
    if (!sessions) return;
    for (const s of [...sessions]) {
      if (notice.type === 'revoke' && s.device !== notice.device) continue;
      s.notify(notice);
    }
  }

  /** Register a session; resolves once notices for its user reach this node. */
  async add(s: HubSession): Promise<void> {
    let set = this.byUser.get(s.user);
    if (!set) this.byUser.set(s.user, (set = new Set()));
    set.add(s);
    this.lists = null;
    if (set.size === 1) await this.router.attach(s.user, this.node);
  }

  /** Unregister; true when it was the user's last session on this node. */
  async remove(s: HubSession): Promise<boolean> {
    for (const [user, set] of this.watchers) if (set.has(s)) this.unwatch(s, [user]);
    const set = this.byUser.get(s.user);
    if (!set || !set.delete(s)) return false;
    this.lists = null;
    if (set.size > 0) return false;
    this.byUser.delete(s.user);
    // Retried: a route left behind keeps routing the user's notices here. A session of the user
    // that arrived meanwhile has attached again, so the detach is skipped then.
    await retry(async () => {
      if (!this.byUser.has(s.user)) await this.router.detach(s.user, this.node);
    }, CLEANUP_RETRY_MS);
    return true;
  }

  watch(s: HubSession, users: readonly UserId[]): void {
    for (const u of users) {
      let set = this.watchers.get(u);
      if (!set) this.watchers.set(u, (set = new Set()));
      set.add(s);
      if (!this.presenceSubs.has(u)) this.presenceSubs.set(u, this.broker.subscribe(Topics.presence(u), (n) => this.deliver(n)));
    }
  }

  unwatch(s: HubSession, users: readonly UserId[]): void {
    for (const u of users) {
      const set = this.watchers.get(u);
      if (!set) continue;
      set.delete(s);
      if (set.size > 0) continue;
      this.watchers.delete(u);
      const sub = this.presenceSubs.get(u);
      this.presenceSubs.delete(u);
      void sub?.then((off) => off()).catch((err) => this.log.warn({ err }, 'presence unsubscribe failed'));
    }
  }

  sessionsOf(user: UserId): HubSession[] {
    return [...(this.byUser.get(user) ?? [])];
  }

  sessionsOfDevice(user: UserId, device: DeviceId): HubSession[] {
    return this.sessionsOf(user).filter((s) => s.device === device);
  }

  all(): HubSession[] {
    return [...this.byUser.values()].flatMap((set) => [...set]);
  }

  /**
   * Sessions' close-time cleanup (route detach, presence, last seen) still running: a node that
   * stops waits for it before closing the broker, router and presence it needs.
   */
  private readonly cleanups = new Set<Promise<void>>();

  track(cleanup: Promise<void>): void {
    this.cleanups.add(cleanup);
    const done = () => void this.cleanups.delete(cleanup);
    cleanup.then(done, done);
  }

  /** Resolves when every tracked cleanup has settled (those started meanwhile included). */
  async cleanupsDone(): Promise<void> {
    while (this.cleanups.size > 0) await Promise.allSettled([...this.cleanups]);
  }

  get size(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.sweeper) clearInterval(this.sweeper);
    await this.unsubscribeNode?.();
    for (const sub of this.presenceSubs.values()) await (await sub)();
    this.presenceSubs.clear();
  }
}

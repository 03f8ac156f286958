/**
 * Broker on Redis pub/sub (ioredis) for the cluster deployment.
 *
 * Each broker owns two connections: a publisher and a subscriber (a connection that issued
 * SUBSCRIBE is reserved for pub/sub under RESP2, and keeping them apart means a slow publish never
 * delays delivery). A topic becomes the channel `prefix + topic`; several local handlers of one
 * topic share a single Redis SUBSCRIBE, and the channel is UNSUBSCRIBEd when its last handler goes.
 * Notices travel as JSON.
 *
 * Delivery is at-most-once, as the Broker contract allows:
 * - The publisher has `enableOfflineQueue: false` and `autoResendUnfulfilledCommands: false`, so
 *   nothing queues up while Redis is down and a PUBLISH whose reply was lost is never sent twice.
 *   A publish while disconnected waits at most `publishTimeoutMs` for the connection to come back
 *   (this also covers the first instants after construction), then rejects; `commandTimeout`
 *   bounds a publish on a connection that hangs. Waiting is bounded in time, so the number of
 *   pending publishes is bounded by rate x timeout, never by the length of an outage.
 * - Notices published while the subscriber is disconnected are lost. On reconnect ioredis
 *   re-subscribes every channel it had (`autoResubscribe`, kept on), so notices flow again
 *   without any action from callers; the test suite checks this by killing the connection.
 * - The subscriber keeps ioredis' offline queue: a `subscribe` during a blink completes after the
 *   reconnect (or rejects after ioredis' `maxRetriesPerRequest` reconnect attempts). That queue
 *   only ever holds SUBSCRIBE/UNSUBSCRIBE commands, at most one per topic change.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { openRedis } from '../util/redis.ts';
import type { Broker, Notice, NoticeHandler } from './Broker.ts';

export interface RedisBrokerOptions {
  /** Where Redis is: a URL (`redis://host:port/db`) or ioredis options. Default 127.0.0.1:6379. */
  redis?: string | RedisOptions;
  /** Prepended to every channel name, so deployments (and tests) sharing a Redis stay apart. */
  prefix?: string;
  /** Upper bound for one publish, including waiting for a reconnect. Default 1000 ms. */
  publishTimeoutMs?: number;
  /** CLIENT SETNAME base for the two connections (`<name>:pub`, `<name>:sub`). Default 'parley-broker'. */
  connectionName?: string;
  /** Handler exceptions, undecodable messages and connection errors. Never throws into Redis code. */
  onError?: (err: unknown, context: string) => void;
}

/** One local subscription; a wrapper so the same function subscribed twice is removed once per call. */
interface Registration {
  handler: NoticeHandler;
}

interface Channel {
  handlers: Set<Registration>;
  /** Settles when the SUBSCRIBE for this channel has been acknowledged (or failed). */
  ready: Promise<void>;
}

export class RedisBroker implements Broker {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly reconnectHandlers: (() => void)[] = [];
  private readonly prefix: string;
  private readonly publishTimeoutMs: number;
  private readonly onError: (err: unknown, context: string) => void;
  private readonly channels = new Map<string, Channel>();
  /** Publishes waiting for the publisher to become ready; woken on 'ready', else they time out. */
  private readonly readyWaiters = new Set<() => void>();
  private closed = false;

  constructor(options: RedisBrokerOptions = {}) {
    this.prefix = options.prefix ?? 'parley:';
    this.publishTimeoutMs = options.publishTimeoutMs ?? 1000;
    this.onError = options.onError ?? (() => {});
    const name = options.connectionName ?? 'parley-broker';

    this.pub = openRedis(options.redis, {
      connectionName: `${name}:pub`,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.publishTimeoutMs,
    });
    this.sub = openRedis(options.redis, { connectionName: `${name}:sub`, autoResubscribe: true });

    // Without an 'error' listener ioredis prints to the console; route errors to the caller.
    this.pub.on('error', (err: unknown) => this.onError(err, 'redis publisher connection'));
    this.sub.on('error', (err: unknown) => this.onError(err, 'redis subscriber connection'));
    this.pub.on('ready', () => this.wakeWaiters());
    this.sub.on('message', (channel: string, message: string) => this.dispatch(channel, message));
    // The first 'ready' is the initial connect; every later one follows a loss of the link.
    let connectedOnce = false;
    this.sub.on('ready', () => {
      if (connectedOnce) for (const h of this.reconnectHandlers) this.safely(h);
      connectedOnce = true;
    });
  }

  async publish(topic: string, notice: Notice): Promise<void> {
    if (this.closed) throw new Error('RedisBroker is closed');
    const payload = JSON.stringify(notice);
    if (this.pub.status !== 'ready') await this.waitForPublisher();
    await this.pub.publish(this.prefix + topic, payload);
  }

  async subscribe(topic: string, handler: NoticeHandler): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('RedisBroker is closed');
    const name = this.prefix + topic;
    let channel = this.channels.get(name);
    if (!channel) {
      // Commands on one connection run in order, so a SUBSCRIBE sent after a pending UNSUBSCRIBE
      // of the same channel (its last handler just left) still ends subscribed.
      channel = { handlers: new Set(), ready: this.sub.subscribe(name).then(() => undefined) };
      this.channels.set(name, channel);
    }
    const registration: Registration = { handler };
    channel.handlers.add(registration);
    try {
      await channel.ready;
    } catch (err) {
      // The SUBSCRIBE never took effect, so there is nothing to UNSUBSCRIBE.
      await this.remove(name, channel, registration, false);
      throw err;
    }
    let removed = false;
    const owner = channel;
    return async () => {
      if (removed) return;
      removed = true;
      await this.remove(name, owner, registration);
    };
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  private safely(handler: () => void): void {
    try {
      handler();
    } catch (err) {
      this.onError(err, 'reconnect handler');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channels.clear();
    this.wakeWaiters();
    await Promise.all([shutdown(this.pub), shutdown(this.sub)]);
  }

  /**
   * Drops one handler; the last one of a channel also UNSUBSCRIBEs. The handler is gone locally at
   * once, so a failed UNSUBSCRIBE (Redis down) is only reported: at worst Redis keeps sending that
   * channel to this node, whose messages then find no handler and are dropped. While disconnected
   * we don't wait for the queued UNSUBSCRIBE (it could take ioredis' whole retry budget); it still
   * runs in order before any later SUBSCRIBE of the same channel.
   */
  private async remove(
    name: string,
    channel: Channel,
    registration: Registration,
    unsubscribe = true,
  ): Promise<void> {
    channel.handlers.delete(registration);
    if (channel.handlers.size > 0 || this.channels.get(name) !== channel) return;
    this.channels.delete(name);
    if (this.closed || !unsubscribe) return;
    const done = this.sub.unsubscribe(name).then(
      () => undefined,
      (err: unknown) => this.onError(err, `unsubscribe ${name}`),
    );
    if (this.sub.status === 'ready') await done;
  }

  private dispatch(name: string, message: string): void {
    const channel = this.channels.get(name);
    if (!channel || channel.handlers.size === 0) return;
    let notice: Notice;
    try {
      notice = JSON.parse(message) as Notice;
    } catch (err) {
      this.onError(err, `undecodable notice on ${name}`);
      return;
    }
    // A copy: a handler may unsubscribe itself or others while we iterate.
    for (const { handler } of [...channel.handlers]) {
      try {
        handler(notice);
      } catch (err) {
        this.onError(err, `notice handler on ${name}`);
      }
    }
  }

  /** Waits for the publisher's next 'ready', at most `publishTimeoutMs`; rejects otherwise. */
  private waitForPublisher(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.readyWaiters.delete(wake);
        if (this.closed) reject(new Error('RedisBroker is closed'));
        else resolve();
      };
      const timer = setTimeout(() => {
        this.readyWaiters.delete(wake);
        reject(new Error(`Redis publisher not connected (status ${this.pub.status}); notice dropped`));
      }, this.publishTimeoutMs);
      this.readyWaiters.add(wake);
    });
  }

  private wakeWaiters(): void {
    for (const wake of [...this.readyWaiters]) wake();
  }
}

/** QUIT politely when connected (flushes pending replies); otherwise just drop the socket. */
async function shutdown(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  client.disconnect();
}

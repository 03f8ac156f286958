/**
 * Broker and Router decorators. The broker one times publishes and counts their failures by topic
 * kind (`node`, `presence`) and counts the notices this node receives. The router one measures
 * fan-out: every live delivery asks `nodesOf` for its recipients once, so the size of that question
 * (recipients) and of its answer (user x node pairs = notices to publish) is the fan-out.
 */
import type { UserId } from '@parley/protocol';
import type { Broker, Notice, NoticeHandler } from '../broker/Broker.ts';
import type { Router } from '../routing/Router.ts';
import { topicKind, type Metrics } from './Metrics.ts';

export class InstrumentedBroker implements Broker {
  constructor(
    private readonly inner: Broker,
    private readonly m: Metrics,
  ) {}

  async publish(topic: string, notice: Notice): Promise<void> {
    const kind = topicKind(topic);
    const end = this.m.publishSeconds.startTimer({ topic: kind });
    try {
      await this.inner.publish(topic, notice);
    } catch (err) {
      this.m.publishErrors.inc({ topic: kind });
      throw err;
    } finally {
      end();
    }
  }

  subscribe(topic: string, handler: NoticeHandler): Promise<() => Promise<void>> {
    return this.inner.subscribe(topic, (notice) => {
      if (notice.type === 'batch') for (const n of notice.notices) this.m.noticesIn.inc({ type: n.type });
      else this.m.noticesIn.inc({ type: notice.type });
      handler(notice);
    });
  }

  onReconnect(handler: () => void): void {
    this.inner.onReconnect(handler);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export class InstrumentedRouter implements Router {
  constructor(
    private readonly inner: Router,
    private readonly m: Metrics,
  ) {}

  attach(user: UserId, node: string): Promise<void> {
    return this.inner.attach(user, node);
  }

  detach(user: UserId, node: string): Promise<void> {
    return this.inner.detach(user, node);
  }

  async nodesOf(users: readonly UserId[]): Promise<Map<UserId, string[]>> {
    const nodes = await this.inner.nodesOf(users);
    let publishes = 0;
    for (const list of nodes.values()) publishes += list.length;
    this.m.fanoutRecipients.observe(users.length);
    this.m.fanoutPublishes.observe(publishes);
    return nodes;
  }

  heartbeat(node: string, users: readonly UserId[]): Promise<void> {
    return this.inner.heartbeat(node, users);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

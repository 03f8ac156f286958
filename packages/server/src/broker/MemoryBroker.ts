/** In-process broker for the embedded default: delivery is synchronous and never lost in practice. */
import type { Broker, Notice, NoticeHandler } from './Broker.ts';

export class MemoryBroker implements Broker {
  private readonly topics = new Map<string, Set<NoticeHandler>>();
  constructor(private readonly onHandlerError: (err: unknown) => void = () => {}) {}

  async publish(topic: string, notice: Notice): Promise<void> {
    const handlers = this.topics.get(topic);
    if (!handlers) return;
    for (const handler of [...handlers]) {
      try {
        handler(notice);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }

  async subscribe(topic: string, handler: NoticeHandler): Promise<() => Promise<void>> {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(handler);
    return async () => {
      const current = this.topics.get(topic);
      if (!current) return;
      current.delete(handler);
      if (current.size === 0) this.topics.delete(topic);
    };
  }

  /** An in-process broker never loses its link. */
  onReconnect(): void {}

  async close(): Promise<void> {
    this.topics.clear();
  }
}

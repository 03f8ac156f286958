/**
 * One Prometheus registry per node (several nodes may share a process in tests, so nothing here
 * touches prom-client's global registry). The ports are instrumented by decorators
 * (InstrumentedStore, InstrumentedBroker, InstrumentedRouter, CountingTransport) so the domain never
 * imports this module; `ParleyNode` wraps its ports with them and serves `GET /metrics`.
 *
 * Metric names (all prefixed `parley_`, every series labelled with `node`):
 * - connections{transport}                 live sessions, read from the hub at scrape time
 * - messages_in_total{outcome}             sends committed: stored | duplicate | refused
 * - events_out_total{transport}            log events written to clients (live and catch-up)
 * - fanout_recipients, fanout_publishes    per delivery: recipient users; (user, node) notices
 * - store_seconds{method,outcome}          latency of every Store call
 * - store_batch_size{method}               items per group commit (appendMessages, applyAcks, applyReads)
 * - broker_publish_seconds{topic}, broker_publish_errors_total{topic}, broker_notices_total{type}
 * - local_notices_total{type}              notices for this node's own sessions, handed over without the broker
 * plus prom-client's default process metrics (`parley_process_*`, `parley_nodejs_*`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Notice } from '../broker/Broker.ts';
import type { HubSession } from '../session/Hub.ts';
import { Session } from '../session/Session.ts';
import type { TransportName } from '../session/Transport.ts';

/** Latency buckets for calls to backing services, seconds: 0.1 ms .. 5 s. */
const LATENCY = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Sizes of batches and fan-outs. */
const SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

export class Metrics {
  readonly registry = new Registry();
  readonly messagesIn: Counter<'outcome'>;
  readonly eventsOut: Counter<'transport'>;
  readonly fanoutRecipients: Histogram;
  readonly fanoutPublishes: Histogram;
  readonly storeSeconds: Histogram<'method' | 'outcome'>;
  readonly batchSize: Histogram<'method'>;
  readonly publishSeconds: Histogram<'topic'>;
  readonly publishErrors: Counter<'topic'>;
  readonly noticesIn: Counter<'type'>;
  readonly localNotices: Counter<'type'>;
  /**
   * Log events written, per transport, as plain numbers: the hot path (one per member of a group's
   * fan-out) bumps these, and each scrape moves them into `eventsOut`.
   */
  private readonly eventsTally = new Map<string, { n: number }>();
  private connectionSource: () => readonly HubSession[] = () => [];

  /** Counts a notice handed to this node's sessions without the broker (one inc per type, not per notice). */
  countLocal(notice: Notice): void {
    if (notice.type !== 'batch') return this.localNotices.inc({ type: notice.type });
    const byType = new Map<string, number>();
    for (const n of notice.notices) byType.set(n.type, (byType.get(n.type) ?? 0) + 1);
    for (const [type, k] of byType) this.localNotices.inc({ type }, k);
  }

  /** The tally of `parley_events_out_total{transport}`: add to `n`; scrapes collect it. */
  eventsOutTally(transport: TransportName): { n: number } {
    let t = this.eventsTally.get(transport);
    if (!t) this.eventsTally.set(transport, (t = { n: 0 }));
    return t;
  }

  constructor(node: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node });
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_' });
    const source = () => this.connectionSource();
    new Gauge({
      name: 'parley_connections',
      help: 'Live sessions on this node by transport',
      labelNames: ['transport'],
      registers,
      collect() {
        const counts: Record<TransportName, number> = { websocket: 0, sse: 0, longpoll: 0 };
        // Long-poll devices also keep a bridge entry in the hub between polls: count sessions only.
        for (const s of source()) if (s instanceof Session) counts[s.transport.name] += 1;
        for (const [transport, n] of Object.entries(counts)) this.set({ transport }, n);
      },
    });
    this.messagesIn = new Counter({ name: 'parley_messages_in_total', help: 'Sends committed by this node, by outcome (stored, duplicate, refused)', labelNames: ['outcome'], registers });
    const tally = this.eventsTally;
    this.eventsOut = new Counter({
      name: 'parley_events_out_total',
      help: 'Log events written to clients by this node',
      labelNames: ['transport'],
      registers,
      collect() {
        for (const [transport, t] of tally) {
          if (t.n === 0) continue;
          this.inc({ transport }, t.n);
          t.n = 0;
        }
      },
    });
    this.fanoutRecipients = new Histogram({ name: 'parley_fanout_recipients', help: 'Recipient users per live delivery', buckets: SIZES, registers });
    this.fanoutPublishes = new Histogram({ name: 'parley_fanout_publishes', help: 'Broker notices (user x node) per live delivery', buckets: SIZES, registers });
    this.storeSeconds = new Histogram({ name: 'parley_store_seconds', help: 'Store call latency by method', labelNames: ['method', 'outcome'], buckets: LATENCY, registers });
    this.batchSize = new Histogram({ name: 'parley_store_batch_size', help: 'Items per group commit', labelNames: ['method'], buckets: SIZES, registers });
    this.publishSeconds = new Histogram({ name: 'parley_broker_publish_seconds', help: 'Broker publish latency by topic kind', labelNames: ['topic'], buckets: LATENCY, registers });
    this.publishErrors = new Counter({ name: 'parley_broker_publish_errors_total', help: 'Broker publishes that failed (the notice is lost; cursors repair it)', labelNames: ['topic'], registers });
    this.noticesIn = new Counter({ name: 'parley_broker_notices_total', help: 'Broker notices received by this node, by type', labelNames: ['type'], registers });
    this.localNotices = new Counter({ name: 'parley_local_notices_total', help: "Notices for this node's own sessions, handed over without the broker, by type", labelNames: ['type'], registers });
  }

  /** Where the connection gauge reads the live sessions from (the node's hub), at scrape time. */
  countConnections(source: () => readonly HubSession[]): void {
    this.connectionSource = source;
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** `node.n_abc` -> `node`: a label of bounded cardinality for a topic. */
export function topicKind(topic: string): string {
  const dot = topic.indexOf('.');
  return dot < 0 ? topic : topic.slice(0, dot);
}

/**
 * Node options. Every limit is an option with a documented default (docs/protocol.md lists them);
 * options are merged once, at construction, as { ...defaults, ...given }.
 */
import { DefaultLimits, type Limits } from '@parley/protocol';
import { defaultMeetingOptions, resolveMeetingOptions, type MeetingOptions } from './rtc/MeetingOptions.ts';

export interface NodeOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port: number;
  /** Interface to listen on. Default '0.0.0.0'. */
  host: string;
  /** Where the embedded store and the token secret live. Default './data'. */
  dataDir: string;
  /** This node's id in the cluster. Default: a random one per start. */
  nodeId: string;
  /** HMAC secret for access tokens; default: read from (or created in) dataDir/secret.key. */
  tokenSecret?: string;
  /** Access token lifetime in seconds. Default 3600. */
  accessTtlSeconds: number;
  /** How long a batch of writes may wait for company, ms. 0 = the next turn of the event loop. */
  batchDelayMs: number;
  /** Largest number of messages committed in one transaction. Default 512. */
  maxBatch: number;
  /**
   * How long device acks may wait for company before they are committed, ms. Default 100. Acks
   * are cumulative and need no durability of their own (a lost ack means a resent event, which the
   * device drops by cursor), so a wait turns a large group's ~20 acks per member per second (the
   * SDK acks every 50 ms) into a few commits and one row update per device per batch: the acks a
   * device sends during the wait are merged into one. It delays delivered receipts by as much.
   */
  ackDelayMs: number;
  /**
   * Embedded store only: SQLite writes run in a worker thread (SqliteWorkerStore), so the event
   * loop never waits for a commit. Default false: on the 2-core bench machine the thread hand-offs
   * cost ~25-35 % more CPU per message than committing on the main thread (docs/benchmarks.md);
   * worth it where spare cores exist. Either way the writes of one tick share one commit.
   */
  storeWorker: boolean;
  /**
   * Embedded store only: who checkpoints SQLite's WAL into the database file. 'background' (the
   * default): a thread of its own, every 100 ms (store/sqlite/checkpointer.ts), so no commit on
   * the event loop pays for a checkpoint's copy and fsync (measured on 2 cores: ~20 % more 1:1
   * messages per second at saturation, docs/benchmarks.md, direct, session 17); 'inline': SQLite's
   * automatic checkpoint in the commit that fills the WAL past 1,000 pages, no extra thread.
   */
  storeCheckpoints: 'background' | 'inline';
  /** Milliseconds a draining node waits for in-flight work before it exits. Default 5000. */
  drainTimeoutMs: number;
  limits: Limits;
  /** Meetings: SFU, ICE, calls (rtc/MeetingOptions.ts has each option and its default). */
  meetings: MeetingOptions;
}

export const defaultOptions: Omit<NodeOptions, 'nodeId'> = {
  port: 8080,
  host: '0.0.0.0',
  dataDir: './data',
  accessTtlSeconds: 3600,
  batchDelayMs: 0,
  maxBatch: 512,
  ackDelayMs: 100,
  storeWorker: false,
  storeCheckpoints: 'background',
  drainTimeoutMs: 5000,
  limits: { ...DefaultLimits },
  meetings: defaultMeetingOptions,
};

export type PartialOptions = Partial<Omit<NodeOptions, 'limits' | 'meetings'>> & { limits?: Partial<Limits>; meetings?: Partial<MeetingOptions> };

export function resolveOptions(given: PartialOptions, randomNodeId: () => string): NodeOptions {
  const merged = { ...defaultOptions, ...given, limits: { ...defaultOptions.limits, ...given.limits }, meetings: resolveMeetingOptions(given.meetings) };
  const nodeId = given.nodeId ?? randomNodeId();
  if (!Number.isInteger(merged.port) || merged.port < 0 || merged.port > 65535) throw new RangeError(`port: ${merged.port}`);
  for (const [k, v] of Object.entries(merged.limits)) {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`limits.${k} must be a positive number, got ${v}`);
  }
  return { ...merged, nodeId };
}

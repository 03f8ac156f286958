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

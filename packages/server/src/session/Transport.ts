/**
 * The transport port: how a Session reaches its client. WebSocket, SSE and long polling each
 * implement it in one file under transport/.
 *
 * Contract: `write` never throws and never blocks; frames are delivered in write order or the
 * transport closes. `buffered()` reports bytes accepted but not yet handed to the OS, so the session
 * can enforce its queue limit. `close` is idempotent; `onClose` handlers run exactly once, however
 * the transport ended (client, server, network).
 */
import type { ServerFrame } from '@parley/protocol';

export type TransportName = 'websocket' | 'sse' | 'longpoll';

export interface Transport {
  readonly name: TransportName;
  /** True when the client sends its commands on separate HTTP requests (SSE, long polling). */
  readonly unidirectional: boolean;
  write(frame: ServerFrame): void;
  buffered(): number;
  /** Resolves when `buffered()` is low again or the transport closed. */
  drained(): Promise<void>;
  close(code: number, reason: string): void;
  onClose(handler: () => void): void;
}

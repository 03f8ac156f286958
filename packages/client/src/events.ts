/** The client's typed event map: `client.on('message', (m) => ...)` is checked against it. */
import type { ConversationId, CursorEvent, LogEvent, Message, ParleyError, PresenceState, Seq, ServerFrame, UserId, WelcomeFrame } from '@parley/protocol';
import type { ConnectionState } from './Connection.ts';
import type { OutboxEntry, SendResult } from './Outbox.ts';
import type { TransportName } from './transport/Transport.ts';

export interface ClientEvents {
  /** A message in one of the user's conversations (the user's own included), once, in order. */
  message: Message;
  /** The all-members delivered/read watermarks of a conversation advanced past the user's messages. */
  receipt: { conv: ConversationId; delivered: Seq; read: Seq };
  /** The user read a conversation up to `seq` (on this or another device). */
  read: { conv: ConversationId; seq: Seq };
  /** Membership or metadata of a conversation changed. */
  conv: Extract<LogEvent, { k: 'conv' }>;
  /** Every log event with its cursor, after the specific event above. */
  event: CursorEvent;
  presence: PresenceState;
  /** Server frames the client does not interpret itself (e.g. `rtc.*` / `call.*` signaling). */
  frame: ServerFrame;
  typing: { conv: ConversationId; user: UserId; on: boolean };
  /** Connection state changes; `transport` is set while connecting or connected. */
  state: { state: ConnectionState; transport: TransportName | null };
  /** A link is open (after `welcome`). */
  connected: { transport: TransportName; welcome: WelcomeFrame };
  /**
   * An attempt with `transport` failed before `welcome` (refused, or silent past the welcome
   * timeout) and the client moves on to `to` (at once, or after a backoff when every candidate failed).
   */
  fallback: { transport: TransportName; to: TransportName | null; why: 'refused' | 'silent'; code: number; reason: string };
  /** The server confirmed a message of the outbox (also for messages queued by an earlier run). */
  sent: { entry: OutboxEntry; result: SendResult };
  /** The server refused a message for good (a permanent error code); it left the outbox. */
  sendFailed: { entry: OutboxEntry; error: ParleyError };
  /**
   * Something went wrong that the application may want to know: an auth failure (code
   * UNAUTHORIZED / TOKEN_EXPIRED), an error frame that answered no request, a storage failure,
   * a listener that threw.
   */
  error: Error;
}

/** Server -> client frames. */
import type { ErrorCode } from './errors.ts';
import type { Cursor, DeviceId, UserId, ConversationId } from './ids.ts';
import type { Limits } from './limits.ts';
import type { LogEvent, PresenceState } from './model.ts';
import type { CallFrame, RtcFrame } from './rtc.ts';

/** First frame of every stream: who you are, where the log stands and where this stream resumes. */
export interface WelcomeFrame {
  t: 'welcome';
  user: UserId;
  device: DeviceId;
  /** Node that serves this connection. */
  node: string;
  /** Events after this cursor follow on this stream. */
  from: Cursor;
  /** The head of the user's log when the stream opened. */
  head: Cursor;
  limits: Limits;
}

/** One logged event with its per-user cursor. The client acks cursors cumulatively. */
export interface EventFrame {
  t: 'ev';
  c: Cursor;
  e: LogEvent;
}

/** The answer to a command, carrying the command's result. */
export interface ResultFrame {
  t: 'res';
  /** The command's id; null only over HTTP, for a command sent without one. */
  id: string | number | null;
  data: unknown;
}

export interface ErrorFrame {
  t: 'err';
  /** The request id, or null when the frame could not be parsed far enough to have one. */
  id: string | number | null;
  code: ErrorCode;
  msg: string;
}

/** Ephemeral: never logged, never replayed. */
export interface TypingFrame {
  t: 'typing';
  conv: ConversationId;
  user: UserId;
  on: boolean;
}

export interface PresenceFrame extends PresenceState {
  t: 'presence';
}

/** The node is going away; reconnect (with your cursor) after `retryMs`. Followed by close 1012. */
export interface ReconnectFrame {
  t: 'reconnect';
  retryMs: number;
}

export type ServerFrame = WelcomeFrame | EventFrame | ResultFrame | ErrorFrame | TypingFrame | PresenceFrame | ReconnectFrame | RtcFrame | CallFrame;

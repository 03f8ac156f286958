/**
 * The one catalogue of error codes. The same code appears in error frames, HTTP bodies, logs and
 * docs/protocol.md. Codes are stable: clients switch on `code`, never on the message text.
 *
 * `temporary` says whether retrying the same request later may succeed (the SDK retries those).
 * `status` is the HTTP status used when the error answers an HTTP request.
 */
export const ErrorCodes = {
  BAD_FRAME: { status: 400, temporary: false, text: 'frame is not a JSON object with a string "t"' },
  UNKNOWN_TYPE: { status: 400, temporary: false, text: 'unknown frame type' },
  INVALID: { status: 400, temporary: false, text: 'a field is missing or has the wrong type' },
  TOO_LARGE: { status: 413, temporary: false, text: 'payload exceeds a size limit' },
  UNAUTHORIZED: { status: 401, temporary: false, text: 'missing, malformed or revoked credentials' },
  TOKEN_EXPIRED: { status: 401, temporary: false, text: 'the access token has expired; refresh it' },
  BAD_CREDENTIALS: { status: 401, temporary: false, text: 'wrong handle or password' },
  FORBIDDEN: { status: 403, temporary: false, text: 'not allowed for this user' },
  NOT_MEMBER: { status: 403, temporary: false, text: 'not a member of this conversation' },
  NOT_ADMIN: { status: 403, temporary: false, text: 'only a group admin may do this' },
  NOT_FOUND: { status: 404, temporary: false, text: 'no such object' },
  HANDLE_TAKEN: { status: 409, temporary: false, text: 'that handle is already registered' },
  GROUP_FULL: { status: 409, temporary: false, text: 'the group has reached its member limit' },
  BAD_CURSOR: { status: 400, temporary: false, text: 'cursor is ahead of the user log' },
  RATE_LIMITED: { status: 429, temporary: true, text: 'too many requests; slow down' },
  UNAVAILABLE: { status: 503, temporary: true, text: 'a backing service is unavailable; retry' },
  DRAINING: { status: 503, temporary: true, text: 'this node is shutting down; reconnect elsewhere' },
  INTERNAL: { status: 500, temporary: true, text: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** An error that carries a stable code. Thrown by the server's domain, sent as an `err` frame. */
export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly temporary: boolean;
  constructor(code: ErrorCode, message?: string) {
    super(message ?? ErrorCodes[code].text);
    this.name = 'ParleyError';
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.temporary = ErrorCodes[code].temporary;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ErrorCodes, value);
}

/**
 * WebSocket close codes Parley uses. 1009 and 1012 are the standard ones; 4xxx are private.
 * Every code here is documented in docs/protocol.md.
 */
export const CloseCodes = {
  /** Frame larger than `maxFrameBytes` (sent by the ws library itself). */
  TOO_LARGE: 1009,
  /** The node is draining (SIGTERM): reconnect, to another node if there is one. */
  SERVICE_RESTART: 1012,
  /** Token missing, bad, expired or the device was logged out. */
  UNAUTHORIZED: 4001,
  /** More frames than the rate limit allows: a flood. Reconnect after a pause. */
  RATE_LIMITED: 4008,
  /** The outbound queue passed its limit: the client is too slow. Reconnect and resync. */
  SLOW_CONSUMER: 4009,
  /** No pong within the heartbeat timeout. */
  HEARTBEAT_TIMEOUT: 4010,
  /** The same device opened a newer connection of the same kind; this one is superseded. */
  REPLACED: 4011,
} as const;
export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];

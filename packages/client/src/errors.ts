/**
 * Client-side errors. They reuse the protocol's catalogue (`ParleyError` with a stable code and a
 * `temporary` flag) so that application code switches on one set of codes, whoever raised it.
 */
import { ParleyError } from '@parley/protocol';

/** The link ended before the answer came. Temporary: the command may or may not have run. */
export class DisconnectedError extends ParleyError {
  constructor(message = 'connection lost before the answer arrived') {
    super('UNAVAILABLE', message);
    this.name = 'DisconnectedError';
  }
}

/** No answer within the request timeout. Temporary. */
export class TimeoutError extends ParleyError {
  constructor(message = 'no answer within the request timeout') {
    super('UNAVAILABLE', message);
    this.name = 'TimeoutError';
  }
}

/** The client was closed by the application. */
export class ClosedError extends ParleyError {
  constructor() {
    super('UNAVAILABLE', 'the client is closed');
    this.name = 'ClosedError';
  }
}

export function isAuthCode(code: string): boolean {
  return code === 'UNAUTHORIZED' || code === 'TOKEN_EXPIRED';
}

/**
 * TURN credentials for coturn's `use-auth-secret` mode (the "TURN REST API" scheme,
 * draft-uberti-behave-turn-rest): no per-user state on the TURN server, a secret shared with it.
 *
 *   username   = "<expiry, unix seconds>:<user id>"
 *   credential = base64(HMAC-SHA1(secret, username))
 *
 * coturn recomputes the HMAC from the username it is given and refuses a username whose expiry
 * has passed, on every authenticated request, refreshes included: an allocation cannot outlive
 * its credentials. So `ttlSeconds` must exceed the longest meeting (default a day); credentials
 * are issued per participant at `rtc.join`, in the `joined` frame's `iceServers`.
 */
import { createHmac } from 'node:crypto';
import type { IceServerInfo } from '@parley/protocol';

export interface TurnOptions {
  /** TURN URLs, e.g. ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349']. */
  urls: string[];
  /** coturn's `static-auth-secret`. */
  secret: string;
  /** Lifetime of issued credentials, seconds. Default 86400. */
  ttlSeconds?: number;
}

export interface IceServerOptions {
  /** STUN URLs handed out as they are (no credentials), e.g. ['stun:turn.example.org:3478']. */
  stunUrls?: string[];
  /** TURN with time-limited credentials; null for none. */
  turn?: TurnOptions | null;
  /** Static entries (the `meetings.iceServers` option), appended unchanged. */
  extra?: IceServerInfo[];
}

export interface TurnCredentials {
  username: string;
  credential: string;
  /** Unix seconds. */
  expiresAt: number;
}

export function turnCredentials(secret: string, userId: string, ttlSeconds = 86_400, nowMs = Date.now()): TurnCredentials {
  if (!secret) throw new RangeError('TURN secret must not be empty');
  if (!(ttlSeconds > 0)) throw new RangeError(`TURN ttlSeconds must be positive, got ${ttlSeconds}`);
  if (userId.includes(':')) throw new RangeError('TURN user id must not contain ":"');
  const expiresAt = Math.floor(nowMs / 1000) + Math.floor(ttlSeconds);
  const username = `${expiresAt}:${userId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64'), expiresAt };
}

/** True when `credential` is what `secret` gives for `username` and it has not expired (what coturn checks). */
export function verifyTurnCredentials(secret: string, username: string, credential: string, nowMs = Date.now()): boolean {
  const expiry = Number(username.split(':', 1)[0]);
  if (!Number.isInteger(expiry) || expiry * 1000 < nowMs) return false;
  return createHmac('sha1', secret).update(username).digest('base64') === credential;
}

/** The ICE server list for one participant's `joined` frame. */
export function iceServersFor(userId: string, o: IceServerOptions, nowMs = Date.now()): IceServerInfo[] {
  const out: IceServerInfo[] = [];
  if (o.stunUrls && o.stunUrls.length > 0) out.push({ urls: o.stunUrls });
  if (o.turn && o.turn.urls.length > 0) {
    const c = turnCredentials(o.turn.secret, userId, o.turn.ttlSeconds, nowMs);
    out.push({ urls: o.turn.urls, username: c.username, credential: c.credential });
  }
  out.push(...(o.extra ?? []));
  return out;
}

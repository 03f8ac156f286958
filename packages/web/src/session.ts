/**
 * The signed-in session: tokens from /v1/auth, kept in localStorage so that a reload stays signed
 * in, and the refresh flow.
 *
 * Refresh tokens are single use. Every refresh goes through one promise at a time, and re-reads
 * localStorage first: when another tab of the same browser has already rotated the pair, its fresh
 * access token is used instead of presenting a spent refresh token.
 */
import type { Tokens } from '@parley/client';

const KEY = 'parley.session';
/** Refresh this long before the access token expires. */
const EARLY_MS = 60_000;

export class AuthError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

function read(): Tokens | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const t = JSON.parse(raw) as Partial<Tokens>;
    if (typeof t.access !== 'string' || typeof t.refresh !== 'string' || typeof t.user !== 'string') return null;
    return t as Tokens;
  } catch {
    return null;
  }
}

async function post(path: string, body: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers['authorization'] = `Bearer ${token}`;
  return fetch(path, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function failure(res: Response): Promise<AuthError> {
  let code = 'INTERNAL';
  let msg = `HTTP ${res.status}`;
  try {
    const b = (await res.json()) as { code?: string; msg?: string };
    if (b.code) code = b.code;
    if (b.msg) msg = b.msg;
  } catch {
    // not JSON: keep the status
  }
  return new AuthError(code, msg);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Session {
  private tokens: Tokens | null = read();
  private refreshing: Promise<Tokens | null> | null = null;

  get current(): Tokens | null {
    return this.tokens;
  }

  private save(t: Tokens): Tokens {
    this.tokens = t;
    localStorage.setItem(KEY, JSON.stringify(t));
    return t;
  }

  clear(): void {
    this.tokens = null;
    localStorage.removeItem(KEY);
  }

  async register(handle: string, password: string): Promise<Tokens> {
    return this.authenticate('/v1/auth/register', handle, password);
  }

  async login(handle: string, password: string): Promise<Tokens> {
    return this.authenticate('/v1/auth/login', handle, password);
  }

  private async authenticate(path: string, handle: string, password: string): Promise<Tokens> {
    const res = await post(path, { handle, password, device: `web ${navigator.userAgent}`.slice(0, 64) });
    if (!res.ok) throw await failure(res);
    return this.save((await res.json()) as Tokens);
  }

  /** An access token valid for at least a minute (refreshed first if need be); null when signed out. */
  async access(): Promise<string | null> {
    const t = this.tokens;
    if (!t) return null;
    if (t.accessExpiresAt - Date.now() > EARLY_MS) return t.access;
    return (await this.refresh())?.access ?? null;
  }

  /**
   * A new token pair. Resolves null when the server refuses the refresh token (signed out, device
   * revoked); retries by itself while the server cannot be reached.
   */
  refresh(): Promise<Tokens | null> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async doRefresh(): Promise<Tokens | null> {
    const mine = this.tokens;
    if (!mine) return null;
    const stored = read();
    if (stored && stored.refresh !== mine.refresh && stored.user === mine.user && stored.accessExpiresAt - Date.now() > EARLY_MS) {
      // Another tab rotated the pair already.
      this.tokens = stored;
      return stored;
    }
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await post('/v1/auth/refresh', { refresh: mine.refresh });
      } catch {
        await sleep(Math.min(15_000, 500 * 2 ** attempt));
        continue;
      }
      if (res.ok) return this.save((await res.json()) as Tokens);
      if (res.status === 401 || res.status === 400 || res.status === 403) {
        this.clear();
        return null;
      }
      await sleep(Math.min(15_000, 500 * 2 ** attempt));
    }
  }

  /** Revoke this device on the server (best effort) and forget the tokens. */
  async logout(): Promise<void> {
    const t = this.tokens;
    this.clear();
    if (!t) return;
    try {
      await post('/v1/auth/logout', undefined, t.access);
    } catch {
      // offline: the tokens are gone from this browser anyway
    }
  }
}

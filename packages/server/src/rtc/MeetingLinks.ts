/**
 * Meeting links: a signed, expiring token that lets its holder join one conversation's room without
 * being a member. Format `ml1.<conv, base64url>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`;
 * stateless, so any node verifies it. The key is derived from the node's token secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ParleyError, type ConversationId } from '@parley/protocol';

const PREFIX = 'ml1.';

export class MeetingLinks {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHmac('sha256', secret).update('parley meeting links v1').digest();
  }

  static looksLikeLink(room: string): boolean {
    return room.startsWith(PREFIX);
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  create(conv: ConversationId, ttlSeconds: number, now = Date.now()): { token: string; expiresAt: number } {
    const exp = Math.floor(now / 1000) + ttlSeconds;
    const body = `${PREFIX}${Buffer.from(conv).toString('base64url')}.${exp}`;
    return { token: `${body}.${this.sign(body)}`, expiresAt: exp * 1000 };
  }

  /** The conversation the link opens; NOT_FOUND when forged or malformed, FORBIDDEN when expired. */
  verify(token: string, now = Date.now()): ConversationId {
    const parts = token.split('.');
    if (parts.length !== 4 || `${parts[0]}.` !== PREFIX) throw new ParleyError('NOT_FOUND', 'no such meeting link');
    const [, convPart = '', expPart = '', sig = ''] = parts;
    const body = `${PREFIX}${convPart}.${expPart}`;
    const want = Buffer.from(this.sign(body));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw new ParleyError('NOT_FOUND', 'no such meeting link');
    const exp = Number(expPart);
    if (!Number.isInteger(exp) || exp * 1000 <= now) throw new ParleyError('FORBIDDEN', 'the meeting link has expired');
    return Buffer.from(convPart, 'base64url').toString() as ConversationId;
  }
}

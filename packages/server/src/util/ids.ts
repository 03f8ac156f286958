/** Random identifiers: 16 random bytes, base64url (22 characters), with a readable prefix. */
import { randomBytes } from 'node:crypto';
import type { ConversationId, DeviceId, UserId } from '@parley/protocol';

export function randomId(prefix: string, bytes = 16): string {
  return prefix + randomBytes(bytes).toString('base64url');
}

export const newUserId = (): UserId => randomId('u_') as UserId;
export const newDeviceId = (): DeviceId => randomId('d_') as DeviceId;
export const newConversationId = (): ConversationId => randomId('c_') as ConversationId;

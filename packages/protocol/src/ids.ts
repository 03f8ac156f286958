/**
 * Distinct identifier types. They are plain strings on the wire; the brand only keeps a
 * conversation id from being passed where a user id is expected.
 */
export type UserId = string & { readonly __brand: 'UserId' };
export type DeviceId = string & { readonly __brand: 'DeviceId' };
export type ConversationId = string & { readonly __brand: 'ConversationId' };

/** Per-conversation message sequence: 1, 2, 3 ... assigned when the store commits. */
export type Seq = number;
/** Per-user event cursor: 1, 2, 3 ... assigned when an event enters the user's log. */
export type Cursor = number;

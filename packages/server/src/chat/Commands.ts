/**
 * The command dispatcher: one validated command from an authenticated principal -> its result.
 * Every command checks who may do it here or in the service it calls. Transports call this; it
 * knows nothing about them beyond the SessionLink interface below.
 */
import { ParleyError, isRtcCommandType, type Command, type CommandType, type ConversationId, type Cursor, type Results, type RtcCommandType, type UserId } from '@parley/protocol';
import type { Principal } from '../auth/tokens.ts';
import type { Store } from '../store/Store.ts';
import type { Conversations } from './Conversations.ts';
import { SendOrder } from './SendOrder.ts';
import type { Messaging } from './Messaging.ts';
import type { PresenceService } from './PresenceService.ts';
import type { Typing } from './Typing.ts';

/** What the dispatcher needs from the live stream(s) of the device that sent the command. */
export interface SessionLink {
  /** The highest cursor this stream has written to its client; acks beyond it are clamped. */
  sentCursor(): Cursor;
  /** Start / stop forwarding presence changes of these users to this stream. */
  watch(users: readonly UserId[]): void;
  unwatch(users: readonly UserId[]): void;
}

type Handlers = { [K in Exclude<CommandType, RtcCommandType>]: (p: Principal, cmd: Extract<Command, { t: K }>, links: readonly SessionLink[]) => Promise<Results[K]> };

/** Meetings (`rtc.*`, `call.*`) live in rtc/; injected by the node, absent when meetings are off. */
export interface MeetingCommands {
  execute(p: Principal, cmd: Extract<Command, { t: RtcCommandType }>, links: readonly SessionLink[]): Promise<unknown>;
}

/** An ack is clamped to what the device's streams wrote; without one (plain HTTP) the store clamps it to the log head. */
function clampAck(cursor: Cursor, links: readonly SessionLink[]): Cursor {
  if (links.length === 0) return cursor;
  let limit = 0;
  for (const l of links) limit = Math.max(limit, l.sentCursor());
  return Math.min(cursor, limit);
}

export class Commands {
  private readonly handlers: Handlers;

  constructor(
    store: Store,
    conversations: Conversations,
    private readonly messaging: Messaging,
    presence: PresenceService,
    typing: Typing,
    private readonly meetings?: MeetingCommands,
  ) {
    const sendOrder = new SendOrder();
    const resolveAll = (refs: readonly string[]) => Promise.all(refs.map((r) => conversations.resolveUser(r)));
    this.handlers = {
      send: async (p, c) => {
        sendOrder.admit(p.device, c.cmid);
        try {
          return await messaging.send(p, c.conv as ConversationId, c.cmid, c.body, c.kind);
        } catch (err) {
          if (err instanceof ParleyError && err.temporary) sendOrder.failed(p.device, c.cmid);
          throw err;
        }
      },
      ack: async (p, c, links) => {
        const cursor = clampAck(c.cursor, links);
        await messaging.ack(p, cursor);
        return { cursor };
      },
      read: async (p, c) => {
        await conversations.requireMember(c.conv as ConversationId, p.user);
        await messaging.read(p, c.conv as ConversationId, c.seq);
        return { conv: c.conv as ConversationId, seq: c.seq };
      },
      typing: async (p, c) => {
        await conversations.requireMember(c.conv as ConversationId, p.user);
        typing.set(c.conv as ConversationId, p.user, c.on);
        return {};
      },
      'presence.sub': async (p, c, links) => {
        const users = await resolveAll(c.users);
        await presence.authorize(p.user, users);
        for (const l of links) l.watch(users);
        return { states: await presence.states(users) };
      },
      'presence.unsub': async (_p, c, links) => {
        // Handles are accepted as in presence.sub; unknown users are simply not watched.
        const users = await Promise.all(c.users.map((r) => conversations.resolveUser(r).catch(() => r as UserId)));
        for (const l of links) l.unwatch(users);
        return {};
      },
      history: async (p, c) => {
        await conversations.requireMember(c.conv as ConversationId, p.user);
        return messaging.history(c.conv as ConversationId, { before: c.before, after: c.after, limit: c.limit });
      },
      sync: (p, c) => messaging.sync(p.user, c.after, c.limit),
      'conv.list': async (p) => ({ conversations: await conversations.list(p) }),
      'conv.get': async (p, c) => ({ conversation: await conversations.view(p.user, c.conv as ConversationId) }),
      'conv.direct': async (p, c) => ({ conversation: await conversations.direct(p, c.user) }),
      'conv.group': async (p, c) => ({ conversation: await conversations.group(p, c.name, c.members) }),
      'conv.add': async (p, c) => ({ conversation: await conversations.add(p, c.conv as ConversationId, c.users) }),
      'conv.remove': async (p, c) => {
        // Removing yourself is leaving: there is no conversation left to show you.
        return { conversation: await conversations.remove(p, c.conv as ConversationId, c.user) };
      },
      'conv.leave': async (p, c) => {
        await conversations.leave(p, c.conv as ConversationId);
        return { conv: c.conv as ConversationId };
      },
      'conv.admin': async (p, c) => ({ conversation: await conversations.setAdmin(p, c.conv as ConversationId, c.user, c.admin) }),
      'conv.rename': async (p, c) => ({ conversation: await conversations.rename(p, c.conv as ConversationId, c.name) }),
      'msg.info': async (p, c) => {
        const conv = await conversations.view(p.user, c.conv as ConversationId);
        if (c.seq > conv.lastSeq) throw new ParleyError('NOT_FOUND', 'no such message');
        return { conv: conv.id, seq: c.seq, members: await store.messageInfo(conv.id, c.seq) };
      },
      'user.find': async (_p, c) => {
        const u = await store.userByHandle(c.handle);
        if (!u) throw new ParleyError('NOT_FOUND', 'no such user');
        return { user: u.id, handle: u.handle };
      },
      ping: async () => ({ now: Date.now() }),
    };
  }

  /**
   * An ack that wants no answer (no `id`), taken synchronously: a large group's members each ack
   * every message, and this path costs no promise chain per frame. Returns the store request the
   * ack joined; acks merged into one request return the same promise (see Messaging.ack).
   */
  ackQuietly(p: Principal, cursor: Cursor, links: readonly SessionLink[]): Promise<undefined> {
    return this.messaging.ack(p, clampAck(cursor, links));
  }

  execute(p: Principal, cmd: Command, links: readonly SessionLink[]): Promise<unknown> {
    if (isRtcCommandType(cmd.t)) {
      if (!this.meetings) return Promise.reject(new ParleyError('NOT_FOUND', 'meetings are not enabled on this server'));
      return this.meetings.execute(p, cmd as Extract<Command, { t: RtcCommandType }>, links);
    }
    const handler = this.handlers[cmd.t] as (p: Principal, c: Command, l: readonly SessionLink[]) => Promise<unknown>;
    return handler(p, cmd, links);
  }
}

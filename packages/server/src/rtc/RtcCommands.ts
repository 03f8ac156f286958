/**
 * The `rtc.*` and `call.*` commands: who may join which room, and the participant a session is.
 * Injected into the chat dispatcher (chat/Commands.ts) as its MeetingCommands.
 *
 * A session is in at most one room: `rtc.join` while in a room leaves it first. A room is joined by
 * a conversation id (members only: NOT_FOUND for an unknown conversation, NOT_MEMBER otherwise) or
 * by a meeting link (`rtc.link`, anyone holding it). Errors never touch the room: a bad SDP or
 * candidate is answered INVALID and the participant's pcs stay as they were.
 */
import { ParleyError, type Command, type ConversationId, type RtcCommandType, type TrackSource } from '@parley/protocol';
import type { Principal } from '../auth/tokens.ts';
import type { Calls } from '../chat/Calls.ts';
import type { MeetingCommands, SessionLink } from '../chat/Commands.ts';
import type { Conversations } from '../chat/Conversations.ts';
import type { Store } from '../store/Store.ts';
import { MeetingLinks } from './MeetingLinks.ts';
import type { Participant } from './Participant.ts';
import type { RoomManager } from './RoomManager.ts';
import type { RoomId } from './RoomTypes.ts';
import { channelOf } from './SessionChannel.ts';

type RtcCommand = Extract<Command, { t: RtcCommandType }>;

export interface RtcCommandsDeps {
  rooms: RoomManager;
  calls: Calls;
  links: MeetingLinks;
  store: Store;
  conversations: Conversations;
}

export class RtcCommands implements MeetingCommands {
  /** The participant of each session (by channel id). */
  private readonly bySession = new Map<string, Participant>();

  constructor(private readonly d: RtcCommandsDeps) {
    d.rooms.on('roomclosed', (room) => d.calls.roomClosed(room as string as ConversationId));
  }

  async execute(p: Principal, cmd: RtcCommand, links: readonly SessionLink[]): Promise<unknown> {
    switch (cmd.t) {
      case 'rtc.join':
        return this.join(p, cmd.room, links);
      case 'rtc.leave': {
        const ch = channelOf(links);
        if (ch) this.bySession.get(ch.id)?.close('left');
        return {};
      }
      case 'rtc.offer': {
        const sources = new Map<string, TrackSource>((cmd.tracks ?? []).map((t) => [t.mid, t.source]));
        return { sdp: await this.participant(links).offer(cmd.pc, cmd.sdp, sources) };
      }
      case 'rtc.answer':
        await this.participant(links).answer(cmd.pc, cmd.sdp);
        return {};
      case 'rtc.ice':
        await this.participant(links).ice(cmd.pc, cmd.candidate);
        return {};
      case 'rtc.mute':
        return { tracks: this.participant(links).mute(cmd.kind, cmd.muted, cmd.track) };
      case 'rtc.layer':
        this.participant(links).layer(cmd.track, cmd.width, cmd.height);
        return {};
      case 'rtc.link': {
        const conv = cmd.conv as ConversationId;
        await this.d.conversations.requireMember(conv, p.user);
        const { token, expiresAt } = this.d.links.create(conv, cmd.ttlSeconds ?? this.d.rooms.ctx.options.linkTtlSeconds);
        return { token, conv, expiresAt };
      }
      case 'call.start':
        return this.d.calls.start(p, cmd.conv as ConversationId);
      case 'call.accept':
        return this.d.calls.accept(p, cmd.call);
      case 'call.decline':
        return this.d.calls.decline(p, cmd.call);
      case 'call.end':
        return this.d.calls.end(p, cmd.call);
    }
  }

  private async join(p: Principal, room: string, links: readonly SessionLink[]): Promise<{ room: string; participant: string }> {
    const channel = channelOf(links);
    if (!channel) throw new ParleyError('INVALID', 'meetings need a live WebSocket or SSE session on this node');
    let conv: ConversationId;
    if (MeetingLinks.looksLikeLink(room)) {
      conv = this.d.links.verify(room);
      if (!(await this.d.store.conversation(conv))) throw new ParleyError('NOT_FOUND', 'no such meeting');
    } else {
      conv = room as ConversationId;
      await this.d.conversations.requireMember(conv, p.user);
    }
    this.bySession.get(channel.id)?.close('left');
    const participant = this.d.rooms.join(conv as string as RoomId, { user: p.user, device: p.device }, channel);
    this.bySession.set(channel.id, participant);
    participant.on('close', () => {
      if (this.bySession.get(channel.id) === participant) this.bySession.delete(channel.id);
    });
    return { room: conv, participant: participant.id };
  }

  private participant(links: readonly SessionLink[]): Participant {
    const ch = channelOf(links);
    const p = ch ? this.bySession.get(ch.id) : undefined;
    if (!p || p.closed) throw new ParleyError('NOT_FOUND', 'not in a room: send rtc.join first');
    return p;
  }

  /** Participants this node holds (for tests). */
  get participants(): number {
    return this.bySession.size;
  }
}

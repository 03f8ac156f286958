/**
 * The rooms of this node, by id (a room's id is its conversation's id). A room is created by its
 * first join and closed when its last participant leaves. Rooms are per node for now: two devices
 * that join the same conversation on different nodes meet in two rooms (relaying between SFU nodes
 * is future work, see docs/meetings.md).
 */
import type { Logger } from 'pino';
import { Emitter } from './Emitter.ts';
import { Ledger, type ResourceKind } from './Ledger.ts';
import type { MeetingOptions } from './MeetingOptions.ts';
import type { Participant } from './Participant.ts';
import { Room } from './Room.ts';
import type { Identity, RoomId, RoomManagerEvents, RtcContext, SignalChannel } from './RoomTypes.ts';

export class RoomManager extends Emitter<RoomManagerEvents> {
  readonly ctx: RtcContext;
  private readonly rooms = new Map<RoomId, Room>();
  private _closed = false;

  constructor(options: MeetingOptions, log: Logger) {
    super((err) => log.warn({ err }, 'room manager listener failed'));
    this.ctx = { options, ledger: new Ledger(), log: log.child({ part: 'rtc' }) };
  }

  room(id: RoomId): Room | undefined {
    return this.rooms.get(id);
  }

  /** The open rooms (for tests and metrics). */
  list(): Room[] {
    return [...this.rooms.values()];
  }

  join(id: RoomId, identity: Identity, channel: SignalChannel): Participant {
    if (this._closed) throw new Error('room manager closed');
    let room = this.rooms.get(id);
    if (!room) {
      const created = new Room(this.ctx, id);
      created.on('participantleft', () => {
        if (created.size === 0) created.close();
      });
      created.on('close', () => {
        if (this.rooms.get(id) === created) this.rooms.delete(id);
        this.emit('roomclosed', id);
      });
      this.rooms.set(id, created);
      room = created;
    }
    try {
      return room.join(identity, channel);
    } catch (err) {
      if (room.size === 0) room.close();
      throw err;
    }
  }

  /** Live resources, for tests and metrics: everything is 0 once all rooms are empty. */
  stats(): Record<ResourceKind, number> {
    return this.ctx.ledger.snapshot();
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const room of [...this.rooms.values()]) room.close();
    this.rooms.clear();
    this.removeAllListeners();
  }
}

/**
 * Calls from chat. `call.start` rings every device of the conversation's members (an ephemeral
 * `call` frame, like typing: never logged); the call's media room is the conversation's rtc room.
 * A call ends as:
 * - `missed`: nobody accepted within `ringTimeoutMs`, or the caller hung up while it rang;
 * - `declined`: in a direct conversation, the callee declined (in a group a decline only stops that
 *   member's devices ringing; the call rings on for the others);
 * - `ended`: hung up after it was accepted, or its room emptied.
 * Then a message of kind `call` lands in the conversation through the normal send path, from the
 * caller, body `{"state":"missed"}`, `{"state":"declined"}` or `{"state":"ended","durationMs":…}`.
 *
 * Calls are held by the node that started them (in memory): a node restart forgets ringing calls
 * without a message. One call per conversation at a time; starting another joins the current one.
 */
import { ParleyError, type CallFrame, type CallMessageBody, type CallState, type ConversationId, type Results, type UserId } from '@parley/protocol';
import type { Logger } from 'pino';
import type { Principal } from '../auth/tokens.ts';
import type { Store } from '../store/Store.ts';
import { randomId } from '../util/ids.ts';
import type { Conversations } from './Conversations.ts';
import type { Delivery } from './Delivery.ts';
import type { Messaging } from './Messaging.ts';

interface Call {
  id: string;
  conv: ConversationId;
  caller: Principal;
  direct: boolean;
  state: 'ringing' | 'accepted';
  acceptedAt: number;
  declined: Set<UserId>;
  members: UserId[];
  cancelRing: (() => void) | null;
}

export interface CallsOptions {
  ringTimeoutMs: number;
}

export class Calls {
  private readonly byId = new Map<string, Call>();
  private readonly byConv = new Map<ConversationId, Call>();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly conversations: Conversations,
    private readonly messaging: Messaging,
    private readonly delivery: Pick<Delivery, 'call'>,
    private readonly opts: CallsOptions,
    private readonly log: Logger,
  ) {}

  /** Calls in progress and ring timers pending: both 0 when nothing is going on. */
  stats(): { calls: number; timers: number } {
    let timers = 0;
    for (const c of this.byId.values()) if (c.cancelRing) timers += 1;
    return { calls: this.byId.size, timers };
  }

  async start(p: Principal, conv: ConversationId): Promise<Results['call.start']> {
    await this.conversations.requireMember(conv, p.user);
    const current = this.byConv.get(conv);
    if (current) return { call: current.id, conv, room: conv, state: current.state };
    const [record, members] = await Promise.all([this.store.conversation(conv), this.store.memberIds(conv)]);
    if (this.closed) throw new ParleyError('DRAINING');
    const again = this.byConv.get(conv); // another start won the race while we read the store
    if (again) return { call: again.id, conv, room: conv, state: again.state };
    const call: Call = {
      id: randomId('call_', 9),
      conv,
      caller: p,
      direct: record?.kind === 'direct',
      state: 'ringing',
      acceptedAt: 0,
      declined: new Set(),
      members,
      cancelRing: null,
    };
    const timer = setTimeout(() => {
      call.cancelRing = null;
      void this.finish(call, 'missed');
    }, this.opts.ringTimeoutMs);
    timer.unref();
    call.cancelRing = () => clearTimeout(timer);
    this.byId.set(call.id, call);
    this.byConv.set(conv, call);
    this.signal(call, 'ringing', p.user);
    return { call: call.id, conv, room: conv, state: 'ringing' };
  }

  async accept(p: Principal, id: string): Promise<Results['call.accept']> {
    const call = await this.find(p, id);
    if (call.state === 'ringing') {
      if (p.user === call.caller.user) throw new ParleyError('INVALID', 'the caller cannot accept its own call');
      this.stopRinging(call);
      call.state = 'accepted';
      call.acceptedAt = Date.now();
    }
    // Also sent when a group call is already accepted: this member's other devices stop ringing.
    this.signal(call, 'accepted', p.user);
    return { call: call.id, room: call.conv };
  }

  async decline(p: Principal, id: string): Promise<Results['call.decline']> {
    const call = await this.find(p, id);
    if (p.user === call.caller.user) throw new ParleyError('INVALID', 'the caller hangs up with call.end');
    call.declined.add(p.user);
    const everyone = call.members.filter((m) => m !== call.caller.user).every((m) => call.declined.has(m));
    if (call.state === 'ringing' && (call.direct || everyone)) await this.finish(call, 'declined', p.user);
    else this.signal(call, 'declined', p.user);
    return { call: call.id };
  }

  async end(p: Principal, id: string): Promise<Results['call.end']> {
    const call = await this.find(p, id);
    if (call.state === 'accepted') await this.finish(call, 'ended', p.user);
    else if (p.user === call.caller.user) await this.finish(call, 'missed', p.user);
    else await this.decline(p, id);
    return { call: call.id };
  }

  /** The conversation's rtc room emptied: an accepted call in it is over. */
  roomClosed(conv: ConversationId): void {
    const call = this.byConv.get(conv);
    if (call?.state === 'accepted') void this.finish(call, 'ended');
  }

  private async find(p: Principal, id: string): Promise<Call> {
    const call = this.byId.get(id);
    if (!call) throw new ParleyError('NOT_FOUND', 'no such call (it may have ended)');
    await this.conversations.requireMember(call.conv, p.user);
    return call;
  }

  private stopRinging(call: Call): void {
    call.cancelRing?.();
    call.cancelRing = null;
  }

  private signal(call: Call, state: CallState, by?: UserId): void {
    const frame: CallFrame = { t: 'call', conv: call.conv, call: call.id, from: call.caller.user, state, room: call.conv, ...(by ? { by } : {}) };
    void this.delivery.call(call.members, frame);
  }

  private async finish(call: Call, state: 'missed' | 'declined' | 'ended', by?: UserId): Promise<void> {
    if (this.byId.get(call.id) !== call) return;
    this.byId.delete(call.id);
    this.byConv.delete(call.conv);
    this.stopRinging(call);
    this.signal(call, state, by);
    const body: CallMessageBody = state === 'ended' ? { state, durationMs: Date.now() - call.acceptedAt } : { state };
    try {
      await this.messaging.send(call.caller, call.conv, `call:${call.id}`, JSON.stringify(body), 'call');
    } catch (err) {
      this.log.warn({ err, call: call.id }, 'could not store the call message');
    }
  }

  /** Node stop: forget calls in progress (no messages: the store may be closing). */
  close(): void {
    this.closed = true;
    for (const call of this.byId.values()) this.stopRinging(call);
    this.byId.clear();
    this.byConv.clear();
  }
}

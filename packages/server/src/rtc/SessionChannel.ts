/**
 * Binds rtc signaling to a Parley session: frames go out with `Session.write` (in order with the
 * session's other frames), and the session's end closes the participant. One channel per session,
 * made on its first `rtc.join`; the transport's close handler is registered once.
 */
import type { RtcFrame } from '@parley/protocol';
import type { SessionLink } from '../chat/Commands.ts';
import { Session } from '../session/Session.ts';
import type { SignalChannel } from './RoomTypes.ts';

class SessionChannel implements SignalChannel {
  readonly id: string;
  private readonly handlers = new Set<() => void>();
  private ended = false;

  constructor(private readonly session: Session) {
    this.id = session.id;
    session.transport.onClose(() => {
      this.ended = true;
      for (const fn of [...this.handlers]) fn();
      this.handlers.clear();
    });
  }

  send(frame: RtcFrame): void {
    if (!this.ended) this.session.write(frame);
  }

  onClose(fn: () => void): () => void {
    if (this.ended) {
      queueMicrotask(fn);
      return () => {};
    }
    this.handlers.add(fn);
    return () => void this.handlers.delete(fn);
  }
}

const channels = new WeakMap<Session, SessionChannel>();

/**
 * The channel of the streaming session a command came with: over WebSocket, that session; over
 * HTTP POST, the device's SSE session on this node. Long polling has no session between polls to
 * carry signaling, so it gets null (the caller answers INVALID).
 */
export function channelOf(links: readonly SessionLink[]): SignalChannel | null {
  const session = links.find((l): l is Session => l instanceof Session && l.transport.name !== 'longpoll');
  if (!session) return null;
  let ch = channels.get(session);
  if (!ch) channels.set(session, (ch = new SessionChannel(session)));
  return ch;
}

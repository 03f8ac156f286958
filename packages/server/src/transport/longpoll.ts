/**
 * Long-polling transport: `GET /v1/poll?token=T&cursor=N[&wait=ms]` (or `Authorization: Bearer T`),
 * answered `{"frames":[...ServerFrame]}`, plus `"close":{"code","reason"}` when the server ended
 * the poll for a reason of its own (draining, logged out ...). Commands go by `POST /v1/cmd`.
 *
 * No server-side state is needed between polls: `cursor` is the last event the client processed.
 * It is applied as a cumulative ack of the device (the same path as a WebSocket ack), and each poll
 * is a short, ordinary Session resuming after it, so resume and gap filling are the Session's own.
 * Any node can serve any poll.
 *
 * The PollTransport collects what the Session writes. The `welcome` alone does not end the poll;
 * any other frame (`ev`, `typing`, `presence`, `reconnect`, `err`) ends it on the next turn of the
 * event loop, so a burst leaves in one answer. An answer holds at most `maxEvents` events (one
 * catch-up page) and about `maxBytes`; the rest is for the next poll. With nothing to say, the poll
 * is answered after the hold time (`wait`, at most the `longPollHoldMs` limit) with no `ev` frame;
 * when the welcome shows events pending, it waits for them even past the hold time, so `wait=0`
 * means "what is there now", never "nothing" by a race.
 *
 * Ephemeral frames (typing, presence) reach a device only while one of its polls is held; presence
 * watches and presence of the device itself outlive a single poll, see poll-devices.ts.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { encodeFrame, type ServerFrame } from '@parley/protocol';
import type { Commands } from '../chat/Commands.ts';
import type { PresenceService } from '../chat/PresenceService.ts';
import { bearer } from '../http/bearer.ts';
import type { Hub } from '../session/Hub.ts';
import type { Transport } from '../session/Transport.ts';
import { clientGone, parseCount, query, refuseWhileDraining, type HttpStreamDeps } from './http-stream.ts';
import { PollDevices, type PollDevicesOptions } from './poll-devices.ts';

export const POLL_PATH = '/v1/poll';

export interface PollAnswer {
  frames: ServerFrame[];
  close?: { code: number; reason: string };
}

export interface PollLimits {
  /** Most `ev` frames in one answer: the catch-up page size (`syncPageSize`). */
  maxEvents: number;
  /** An answer is sent once its frames pass this many bytes (from `maxQueueBytes`). */
  maxBytes: number;
}

export class PollTransport implements Transport {
  readonly name = 'longpoll' as const;
  readonly unidirectional = true;
  private state: 'holding' | 'answered' | 'aborted' = 'holding';
  private parts: string[] = [];
  private bytes = 0;
  private events = 0;
  private catchingUp = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private closeInfo: { code: number; reason: string } | null = null;
  private handlers: (() => void)[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly limits: PollLimits,
  ) {
    res.on('close', () => {
      if (this.state === 'holding') this.finish('aborted');
    });
    res.on('error', () => {
      if (this.state === 'holding') this.finish('aborted');
    });
    if (clientGone(res)) this.finish('aborted');
  }

  get isEnded(): boolean {
    return this.state !== 'holding';
  }

  /** True when the client went away before it got an answer. */
  get aborted(): boolean {
    return this.state === 'aborted';
  }

  /** Answer after `ms` if nothing ends the poll earlier. */
  hold(ms: number): void {
    if (this.state !== 'holding' || this.timer) return;
    this.timer = setTimeout(() => {
      // The welcome promised events: they are on their way from the store; wait for them.
      if (this.catchingUp && this.events === 0) return;
      this.answer();
    }, ms);
  }

  write(frame: ServerFrame): void {
    if (this.state !== 'holding') return;
    const json = encodeFrame(frame);
    this.parts.push(json);
    this.bytes += json.length + 1;
    if (frame.t === 'welcome') {
      this.catchingUp = frame.from < frame.head;
      return;
    }
    if (frame.t === 'ev') this.events += 1;
    if (this.events >= this.limits.maxEvents || this.bytes >= this.limits.maxBytes) {
      this.answer();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.answer());
    }
  }

  buffered(): number {
    return this.state === 'holding' ? this.bytes : 0;
  }

  /** An answer never waits for the client: it is bounded and sent whole. */
  drained(): Promise<void> {
    return Promise.resolve();
  }

  close(code: number, reason: string): void {
    if (this.state !== 'holding') return;
    this.closeInfo = { code, reason };
    this.answer();
  }

  onClose(handler: () => void): void {
    if (this.state !== 'holding') handler();
    else this.handlers.push(handler);
  }

  private answer(): void {
    if (this.state !== 'holding') return;
    const close = this.closeInfo ? `,"close":${JSON.stringify(this.closeInfo)}` : '';
    const body = `{"frames":[${this.parts.join(',')}]${close}}`;
    if (!clientGone(this.res)) {
      this.res.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-store',
        'Content-Length': Buffer.byteLength(body),
      });
      this.res.end(body);
    }
    this.finish('answered');
  }

  private finish(state: 'answered' | 'aborted'): void {
    if (this.state !== 'holding') return;
    this.state = state;
    if (this.timer) clearTimeout(this.timer);
    this.parts = [];
    // An aborted poll's hijacked response is never answered: free its socket now.
    if (state === 'aborted' && !this.res.writableEnded) this.res.destroy();
    for (const h of this.handlers.splice(0)) h();
  }
}

export interface LongPollDeps extends HttpStreamDeps {
  commands: Commands;
  hub: Hub;
  presence: PresenceService;
  /** Default and longest hold (the `longPollHoldMs` limit). */
  holdMs: number;
  limits: PollLimits;
}

/** Registers `GET /v1/poll`; returns the per-device records `POST /v1/cmd` must see (its `linksOf`). */
export function longPollRoutes(app: FastifyInstance, deps: LongPollDeps, options: Partial<PollDevicesOptions> = {}): PollDevices {
  const devices = new PollDevices(deps.hub, deps.presence, deps.log, options);
  app.addHook('onClose', async () => devices.close());

  app.get(POLL_PATH, async (req, reply) => {
    refuseWhileDraining(deps);
    const q = query(req);
    const cursor = parseCount(q['cursor'], 'cursor');
    const wait = parseCount(q['wait'], 'wait');
    const principal = await deps.auth.authenticate(bearer(req));
    refuseWhileDraining(deps);
    if (cursor !== null && cursor > 0) {
      // The ack is not awaited: the poll resumes after `cursor` whatever the ack's fate, and an
      // ack lost to a store failure is repeated by the next poll.
      deps.commands.execute(principal, { t: 'ack', cursor }, []).catch((err: unknown) => deps.log.warn({ err }, 'poll ack failed'));
    }
    reply.hijack();
    const poll = new PollTransport(reply.raw, deps.limits);
    if (poll.isEnded) return;
    const device = devices.of(principal);
    device.begin(poll);
    poll.onClose(() => device.finish(poll, poll.aborted));
    try {
      const session = await deps.openSession(principal, poll, cursor);
      device.bind(poll, session);
    } catch (err) {
      deps.log.warn({ err }, 'poll session failed to open');
      poll.close(1011, 'INTERNAL');
      return;
    }
    poll.hold(Math.min(wait ?? deps.holdMs, deps.holdMs));
  });
  return devices;
}

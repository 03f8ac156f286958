/**
 * Commands over `POST /v1/cmd`, for the transports whose stream only goes server -> client.
 *
 * Ordering is the point of this file. A device's messages must be stored in the order it sent them,
 * and over HTTP three things can break that:
 * - two concurrent requests may commit in either order: so there is one lane, one request at a time;
 * - the server runs an array's commands one after another, each awaiting its commit, and keeps
 *   running them after the client has lost the connection: a retry of the same sends could then
 *   interleave with the tail of the first request. So a request carries at most one `send`
 *   (acks, reads, typing and other commands queued with it ride along in an array);
 * - a request that failed without a server answer (network error, timeout, a proxy's 502) may or
 *   may not have run, and the lane must not carry on past it. So the same request is sent again
 *   (`retries` times, when every command in it is safe to repeat: sends by their cmid, reads and
 *   acks as watermarks, queries); if that fails too, the whole link counts as lost (`broken`): the
 *   client reconnects, and the outbox sends everything unanswered again, in order, with the same
 *   client message ids. Keep-alive connections that died while idle cost one retry, not a reconnect.
 * A server answer, even an error, settles its command normally.
 */
import type { Command, ErrorFrame, ResultFrame, ServerFrame } from '@parley/protocol';
import { timeoutSignal } from './abort.ts';

export interface HttpCommandsOptions {
  baseUrl: string;
  token: string;
  fetch: typeof fetch;
  /** Answers (one per command with an id) go here. */
  deliver(frame: ServerFrame): void;
  /** A 401: the token is no longer good. */
  unauthorized(code: string): void;
  /** A request failed without an answer: the link must be considered lost. */
  broken(reason: string): void;
  /** Largest batch per request (the server's limit is 100). */
  maxBatch?: number;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
  /** Repeats of a request that got no answer, before the link counts as lost. Default 2. */
  retries?: number;
}

/** Commands whose repetition changes nothing (creating a group twice would make two groups). */
const REPEATABLE = new Set<Command['t']>(['send', 'ack', 'read', 'typing', 'presence.sub', 'presence.unsub', 'history', 'sync', 'conv.list', 'conv.get', 'conv.direct', 'conv.rename', 'conv.admin', 'msg.info', 'user.find', 'ping']);

type Answer = ResultFrame | ErrorFrame;

function isAnswer(v: unknown): v is Answer {
  return typeof v === 'object' && v !== null && ((v as { t?: unknown }).t === 'res' || (v as { t?: unknown }).t === 'err');
}

export class HttpCommands {
  private queue: Command[] = [];
  private busy = false;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(private readonly opts: HttpCommandsOptions) {}

  /** After `close`, commands are dropped: the client fails whatever was waiting when the link ended. */
  send(cmd: Command): void {
    if (this.closed) return;
    this.queue.push(cmd);
    if (!this.busy) void this.flush();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.abort.abort();
  }

  /** The next request: a prefix of the queue with at most one `send`. */
  private nextBatch(): Command[] {
    const max = this.opts.maxBatch ?? 100;
    let sends = 0;
    let n = 0;
    for (const cmd of this.queue) {
      if (n >= max || (cmd.t === 'send' && sends === 1)) break;
      if (cmd.t === 'send') sends++;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async flush(): Promise<void> {
    this.busy = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const batch = this.nextBatch();
        const repeatable = batch.every((c) => REPEATABLE.has(c.t));
        const retries = repeatable ? (this.opts.retries ?? 2) : 0;
        for (let attempt = 0; ; attempt++) {
          const failure = await this.post(batch);
          if (failure === null || this.closed) break;
          if (attempt >= retries) {
            this.fail(failure);
            break;
          }
          await new Promise((r) => setTimeout(r, 25 * (attempt + 1)));
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /** Send one request; null when it was answered (or the lane closed), else why it failed. */
  private async post(batch: Command[]): Promise<string | null> {
    const one = batch.length === 1;
    let status = 0;
    let body: unknown;
    const t = timeoutSignal(this.abort.signal, this.opts.timeoutMs ?? 20_000);
    try {
      const res = await this.opts.fetch(`${this.opts.baseUrl}/v1/cmd`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.token}` },
        body: JSON.stringify(one ? batch[0] : batch),
        signal: t.signal,
      });
      status = res.status;
      const text = await res.text();
      body = text ? JSON.parse(text) : null;
    } catch (err) {
      return this.closed ? null : `POST /v1/cmd failed: ${(err as Error).message ?? String(err)}`;
    } finally {
      t.done();
    }
    if (this.closed) return null;
    if (status === 401) {
      const code = isAnswer(body) && body.t === 'err' ? body.code : 'UNAUTHORIZED';
      this.close();
      this.opts.unauthorized(code);
      return null;
    }
    // One answer for the whole request (e.g. 413 for the body) stands for each command.
    const answers: unknown[] = Array.isArray(body) ? body : batch.map(() => body);
    if (answers.length !== batch.length || !answers.every(isAnswer)) return `POST /v1/cmd: no answer (HTTP ${status})`;
    batch.forEach((cmd, i) => {
      const a = answers[i] as Answer;
      if (cmd.id !== undefined) this.opts.deliver({ ...a, id: cmd.id });
      // Fire-and-forget commands: only a failure is worth passing on (as an id-less error).
      else if (a.t === 'err') this.opts.deliver({ ...a, id: null });
    });
    return null;
  }

  private fail(reason: string): void {
    this.close();
    this.opts.broken(reason);
  }
}

/**
 * Commands that expect an answer: each gets a fresh id, waits for a link if there is none, and is
 * settled by the `res`/`err` frame carrying its id, by the link ending (DisconnectedError), or by
 * its timeout (TimeoutError). Whether a command is retried after that is the caller's decision:
 * only the outbox retries, because only sends are idempotent (by their client message id).
 */
import { ParleyError, isErrorCode, type Command, type ErrorFrame, type ResultFrame } from '@parley/protocol';
import { ClosedError, DisconnectedError, TimeoutError } from './errors.ts';

/** A command as the caller writes it: the id is assigned here. */
export type CommandInput = Command extends infer C ? (C extends Command ? Omit<C, 'id'> : never) : never;

interface Pending {
  cmd: Command;
  resolve(data: unknown): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class Requests {
  private nextId = 1;
  private readonly sent = new Map<number, Pending>();
  private waiting: Pending[] = [];
  private link: ((cmd: Command) => void) | null = null;
  private closed = false;

  constructor(private readonly timeoutMs: number) {}

  request(input: CommandInput, timeoutMs = this.timeoutMs): Promise<unknown> {
    if (this.closed) return Promise.reject(new ClosedError());
    const id = this.nextId++;
    const cmd = { ...input, id } as Command;
    return new Promise((resolve, reject) => {
      const p: Pending = {
        cmd,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.sent.delete(id);
          this.waiting = this.waiting.filter((w) => w !== p);
          reject(new TimeoutError());
        }, timeoutMs),
      };
      if (this.link) this.transmit(p);
      else this.waiting.push(p);
    });
  }

  private transmit(p: Pending): void {
    this.sent.set(p.cmd.id as number, p);
    this.link?.(p.cmd);
  }

  /** A link is up: send what waited, in order. */
  attach(send: (cmd: Command) => void): void {
    this.link = send;
    for (const p of this.waiting.splice(0)) this.transmit(p);
  }

  /** The link ended: what was sent on it will never be answered. */
  detach(): void {
    this.link = null;
    const lost = [...this.sent.values()];
    this.sent.clear();
    for (const p of lost) {
      clearTimeout(p.timer);
      p.reject(new DisconnectedError());
    }
  }

  /** Settle the request this frame answers; false when it answers none of ours. */
  answer(frame: ResultFrame | ErrorFrame): boolean {
    if (typeof frame.id !== 'number') return false;
    const p = this.sent.get(frame.id);
    if (!p) return false;
    this.sent.delete(frame.id);
    clearTimeout(p.timer);
    if (frame.t === 'res') p.resolve(frame.data);
    else p.reject(new ParleyError(isErrorCode(frame.code) ? frame.code : 'INTERNAL', frame.msg));
    return true;
  }

  get outstanding(): number {
    return this.sent.size + this.waiting.length;
  }

  close(): void {
    this.closed = true;
    this.link = null;
    const all = [...this.sent.values(), ...this.waiting];
    this.sent.clear();
    this.waiting = [];
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(new ClosedError());
    }
  }
}

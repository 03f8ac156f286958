/**
 * A protocol-level test client over any transport. It records every frame it receives, answers
 * commands by request id, and can ack events as they arrive (as a real device would).
 * Transport-specific connectors implement `Link`; the conformance suite runs against each.
 */
import type { Command, Cursor, ErrorFrame, EventFrame, LogEvent, ServerFrame, WelcomeFrame } from '@parley/protocol';

/** The transport underneath a TestClient. */
export interface Link {
  readonly kind: string;
  /** Send a command; for HTTP-based links the answer comes back through `onFrame` as well. */
  send(cmd: Command | string): void;
  close(): void;
  onFrame(handler: (frame: ServerFrame) => void): void;
  onClose(handler: (code: number, reason: string) => void): void;
}

export type Connector = (url: string, token: string, cursor?: Cursor) => Promise<Link>;

let nextId = 1;

/** A command without its id (distributed over the union, so each command keeps its own fields). */
export type CommandInput = Command extends infer C ? (C extends Command ? Omit<C, 'id'> : never) : never;

export class TestClient {
  readonly frames: ServerFrame[] = [];
  closeInfo: { code: number; reason: string } | null = null;
  private waiters: { pred: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }[] = [];
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];

  constructor(
    readonly link: Link,
    readonly autoAck = true,
  ) {
    link.onFrame((f) => this.receive(f));
    link.onClose((code, reason) => {
      this.closeInfo = { code, reason };
      for (const w of this.closeWaiters.splice(0)) w(this.closeInfo);
    });
  }

  private receive(f: ServerFrame): void {
    this.frames.push(f);
    if (f.t === 'ev' && this.autoAck) this.link.send({ t: 'ack', cursor: f.c });
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(f)) return true;
      w.resolve(f);
      return false;
    });
  }

  /** Resolves with the first frame (already received or future) matching `pred`. */
  waitFor<T extends ServerFrame = ServerFrame>(pred: (f: ServerFrame) => boolean, timeoutMs = 15_000, what = 'frame'): Promise<T> {
    const found = this.frames.find(pred);
    if (found) return Promise.resolve(found as T);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what} on ${this.link.kind}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f as T);
        },
      });
    });
  }

  /** Send a command with a fresh id; resolves with `data` of its `res`, rejects with its `err`. */
  async request<T = unknown>(cmd: CommandInput): Promise<T> {
    const id = `r${nextId++}`;
    this.link.send({ ...cmd, id } as Command);
    const f = await this.waitFor((x) => (x.t === 'res' || x.t === 'err') && x.id === id, 15_000, `answer to ${cmd.t}`);
    if (f.t === 'err') throw Object.assign(new Error(`${f.code}: ${f.msg}`), { code: f.code });
    return (f as { data: T }).data;
  }

  /** The answer frame of a command, error or not. */
  async answer(cmd: Command | string, id: string | number | null): Promise<ServerFrame> {
    this.link.send(cmd);
    return this.waitFor((x) => (x.t === 'res' || x.t === 'err') && x.id === id, 15_000, 'answer');
  }

  welcome(): Promise<WelcomeFrame> {
    return this.waitFor<WelcomeFrame>((f) => f.t === 'welcome', 15_000, 'welcome');
  }

  events(): EventFrame[] {
    return this.frames.filter((f): f is EventFrame => f.t === 'ev');
  }

  eventsOf<K extends LogEvent['k']>(k: K): (EventFrame & { e: Extract<LogEvent, { k: K }> })[] {
    return this.events().filter((f) => f.e.k === k) as (EventFrame & { e: Extract<LogEvent, { k: K }> })[];
  }

  errors(): ErrorFrame[] {
    return this.frames.filter((f): f is ErrorFrame => f.t === 'err');
  }

  lastCursor(): Cursor {
    const evs = this.events();
    return evs.length ? (evs[evs.length - 1]?.c ?? 0) : 0;
  }

  closed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for close on ${this.link.kind}`)), timeoutMs);
      this.closeWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  close(): void {
    this.link.close();
  }
}

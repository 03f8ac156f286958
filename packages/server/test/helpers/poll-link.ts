/**
 * The long-polling Link for the test client: a loop of GET /v1/poll carrying the last cursor it
 * received, commands by POST /v1/cmd. The first poll asks `wait=0`, so connecting returns at once
 * with the welcome (and whatever is pending); later polls are held by the server. Each answer
 * starts with a welcome of its own: the link passes on the first only, since to its client the
 * polls are one stream. `close()` aborts the poll in flight, so the server sees the client leave.
 */
import type { ServerFrame } from '@parley/protocol';
import type { Connector, Link } from './clients.ts';
import type http from 'node:http';
import { LinkBase, httpRequest, readBody } from './sse-link.ts';

export interface PollAnswer {
  frames: ServerFrame[];
  close?: { code: number; reason: string };
}

/** One poll. `status` and the parsed body (an answer or an error frame). */
export async function poll(
  url: string,
  token: string,
  opts: { cursor?: number; wait?: number; signal?: AbortSignal; agent?: http.Agent } = {},
): Promise<{ status: number; body: PollAnswer & Partial<{ t: string; code: string }> }> {
  const q = new URLSearchParams({ token });
  if (opts.cursor !== undefined) q.set('cursor', String(opts.cursor));
  if (opts.wait !== undefined) q.set('wait', String(opts.wait));
  const res = await httpRequest(`${url}/v1/poll?${q}`, { signal: opts.signal, agent: opts.agent });
  return { status: res.statusCode ?? 0, body: JSON.parse(await readBody(res)) as PollAnswer & Partial<{ t: string; code: string }> };
}

class PollLink extends LinkBase implements Link {
  private cursor: number | undefined;
  private welcomed = false;

  constructor(url: string, token: string, cursor: number | undefined) {
    super('longpoll', url, token);
    this.cursor = cursor;
  }

  /** One poll; false when the link is over. */
  async once(wait?: number): Promise<boolean> {
    let answer: Awaited<ReturnType<typeof poll>>;
    try {
      answer = await poll(this.url, this.token, { cursor: this.cursor, wait, signal: this.ac.signal, agent: this.agent });
    } catch {
      this.ended(1006, 'poll failed');
      return false;
    }
    if (answer.status !== 200) {
      this.ended(answer.status === 401 ? 4001 : 1011, answer.body.code ?? `HTTP ${answer.status}`);
      return false;
    }
    for (const f of answer.body.frames) {
      if (f.t === 'welcome') {
        // Where this poll's stream starts: the server may have moved a bad cursor back.
        this.cursor = f.from;
        if (this.welcomed) continue;
        this.welcomed = true;
      }
      if (f.t === 'ev') this.cursor = f.c;
      if (!this.closed) this.emit(f);
    }
    if (answer.body.close) {
      this.ended(answer.body.close.code, answer.body.close.reason);
      return false;
    }
    return !this.closed;
  }

  async loop(): Promise<void> {
    while (await this.once()) {
      // next poll at once
    }
  }
}

export const connectPoll: Connector = async (url, token, cursor) => {
  const link = new PollLink(url, token, cursor);
  if (!(await link.once(0))) throw new Error('poll refused');
  void link.loop();
  return link;
};

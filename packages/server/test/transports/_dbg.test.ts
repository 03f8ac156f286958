import { it } from 'node:test';
import type { Results } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectPoll } from '../helpers/poll-link.ts';
import { register, startServer } from '../helpers/server.ts';

it('dbg', async () => {
  const server = await startServer();
  for (let rep = 0; rep < 40; rep++) {
    const [a, b] = [await register(server.url), await register(server.url)];
    const open = async (t: typeof a, cursor?: number, autoAck = true) => { const c = new TestClient(await connectPoll(server.url, t.access, cursor), autoAck); await c.welcome(); return c; };
    const ca = await open(a);
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.handle })).conversation;
    let cb = await open(b, undefined, false);
    const sending = (async () => { for (let i = 0; i < 200; i++) await ca.request({ t: 'send', conv: conv.id, cmid: `c${i}`, body: `x${i}` }); })();
    const log: string[] = [];
    for (let round = 0; round < 3; round++) {
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 30));
      const w = cb.frames.find((f) => f.t === 'welcome');
      log.push(`round ${round} waited ${Date.now() - t0} welcome ${JSON.stringify(w && { from: (w as {from:number}).from, head: (w as {head:number}).head })} last ${cb.lastCursor()} evs ${cb.events().length}`);
      const cursor = cb.lastCursor();
      cb.close();
      cb = await open(b, cursor, false);
    }
    await sending;
    if (log.some((l) => / last 0 /.test(l))) console.log(log.join('\n'));
    ca.close(); cb.close();
  }
  await server.stop();
});

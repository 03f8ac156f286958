/** Calls from chat: ringing, accept, decline, timeout, and the call message left in the conversation. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CallFrame, EventFrame, Results, Tokens } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';

describe('calls from chat', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ meetings: { ringTimeoutMs: 400 } });
  });
  after(async () => server.stop());

  const client = async (t: Tokens) => {
    const c = new TestClient(await connectWs(server.url, t.access));
    await c.welcome();
    return c;
  };
  const pair = async () => {
    const [a, b] = [await register(server.url, 'caller'), await register(server.url, 'callee')];
    const [ca, cb] = [await client(a), await client(b)];
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.user })).conversation.id;
    return { a, b, ca, cb, conv };
  };
  const callFrame = (c: TestClient, call: string, state: CallFrame['state']) =>
    c.waitFor<CallFrame>((f) => f.t === 'call' && f.call === call && f.state === state, 3000, `call ${state}`);
  const callMessage = (c: TestClient, conv: string) =>
    c.waitFor<EventFrame>((f) => f.t === 'ev' && f.e.k === 'message' && f.e.msg.conv === conv && f.e.msg.kind === 'call', 3000, 'call message');

  it('rings the callee, accept, hang up: an "ended" message with the duration', async () => {
    const { a, ca, cb, conv } = await pair();
    const started = await ca.request<Results['call.start']>({ t: 'call.start', conv });
    assert.equal(started.state, 'ringing');
    assert.equal(started.room, conv);
    const ring = await callFrame(cb, started.call, 'ringing');
    assert.equal(ring.from, a.user);
    assert.deepEqual((await ca.request<Results['call.start']>({ t: 'call.start', conv })).call, started.call, 'one call per conversation');
    const acc = await cb.request<Results['call.accept']>({ t: 'call.accept', call: started.call });
    assert.equal(acc.room, conv);
    await callFrame(ca, started.call, 'accepted');
    await new Promise((r) => setTimeout(r, 600)); // longer than the ring timeout: an accepted call does not time out
    await ca.request({ t: 'call.end', call: started.call });
    await callFrame(cb, started.call, 'ended');
    const m = await callMessage(cb, conv);
    assert.ok(m.e.k === 'message');
    assert.equal(m.e.msg.from, a.user);
    const body = JSON.parse(m.e.msg.body) as { state: string; durationMs: number };
    assert.equal(body.state, 'ended');
    assert.ok(body.durationMs >= 600 && body.durationMs < 5000);
    await assert.rejects(cb.request({ t: 'call.end', call: started.call }), { code: 'NOT_FOUND' });
    assert.deepEqual(server.node.meetings!.calls.stats(), { calls: 0, timers: 0 });
  });

  it('decline in a direct conversation ends the call with a "declined" message', async () => {
    const { ca, cb, conv } = await pair();
    const { call } = await ca.request<Results['call.start']>({ t: 'call.start', conv });
    await callFrame(cb, call, 'ringing');
    await assert.rejects(ca.request({ t: 'call.accept', call }), { code: 'INVALID' });
    await cb.request({ t: 'call.decline', call });
    await callFrame(ca, call, 'declined');
    const m = await callMessage(ca, conv);
    assert.ok(m.e.k === 'message' && JSON.parse(m.e.msg.body).state === 'declined');
  });

  it('nobody answers: the call ends as missed after the ring timeout', async () => {
    const { ca, cb, conv } = await pair();
    const { call } = await ca.request<Results['call.start']>({ t: 'call.start', conv });
    await callFrame(cb, call, 'missed');
    const m = await callMessage(cb, conv);
    assert.ok(m.e.k === 'message');
    assert.deepEqual(JSON.parse(m.e.msg.body), { state: 'missed' });
    assert.deepEqual(server.node.meetings!.calls.stats(), { calls: 0, timers: 0 });
  });

  it('only members may call, accept or hang up', async () => {
    const { ca, conv } = await pair();
    const eve = await client(await register(server.url, 'eve'));
    await assert.rejects(eve.request({ t: 'call.start', conv }), { code: 'NOT_MEMBER' });
    await assert.rejects(eve.request({ t: 'call.start', conv: 'c_nope' }), { code: 'NOT_FOUND' });
    const { call } = await ca.request<Results['call.start']>({ t: 'call.start', conv });
    await assert.rejects(eve.request({ t: 'call.accept', call }), { code: 'NOT_MEMBER' });
    await assert.rejects(eve.request({ t: 'call.end', call: 'call_nope' }), { code: 'NOT_FOUND' });
    await ca.request({ t: 'call.end', call }); // the caller cancels: missed for the callee
  });
});

describe('meetings switched off', () => {
  it('answers rtc and call commands with NOT_FOUND', async () => {
    const server = await startServer({ meetings: { enabled: false } });
    try {
      const c = new TestClient(await connectWs(server.url, (await register(server.url)).access));
      await c.welcome();
      await assert.rejects(c.request({ t: 'rtc.join', room: 'c_x' }), { code: 'NOT_FOUND' });
      await assert.rejects(c.request({ t: 'call.start', conv: 'c_x' }), { code: 'NOT_FOUND' });
    } finally {
      await server.stop();
    }
  });
});

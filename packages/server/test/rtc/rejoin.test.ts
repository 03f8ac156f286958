/**
 * A device that joins a meeting again from a new session (its link dropped and the server has not
 * noticed the old session yet) replaces its old participant at once: no ghost until the old pcs
 * time out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Results, RtcFrame } from '@parley/protocol';
import { loopbackOnly } from '../../src/rtc/MeetingOptions.ts';
import { REJOINED } from '../../src/rtc/Room.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';
import { Bot, until } from './bot.ts';

describe('meetings: rejoin from the same device', () => {
  let server: TestServer;
  const bots: Bot[] = [];
  let conv = '';

  before(async () => {
    // A long grace: the old participant must go because of the rejoin, not because its pcs timed out.
    server = await startServer({ meetings: { hostAddresses: ['127.0.0.1'], candidatePairFilter: loopbackOnly, ipv6: false, disconnectGraceMs: 120_000 } });
    const tokens = await Promise.all([register(server.url, 'ann'), register(server.url, 'bob')]);
    bots.push(await new Bot(tokens[0]!, 1).connect(server.url), await new Bot(tokens[1]!, 2).connect(server.url));
    const group = await bots[0]!.client.request<Results['conv.group']>({ t: 'conv.group', name: 'rejoin', members: [tokens[1]!.user] });
    conv = group.conversation.id;
  });
  after(async () => {
    await Promise.allSettled(bots.map((b) => b.close()));
    await server.stop();
  });

  it('the old participant is closed when the same device joins again, and the new one is heard', async () => {
    const [old, bob] = [bots[0]!, bots[1]!];
    for (const b of [old, bob]) {
      await b.join(conv);
      await b.publish();
      b.startMedia();
    }
    await until(() => bob.received.size === 2, 20_000, 'bob receives the first session');
    const stats = () => server.node.meetings!.rooms.stats();
    assert.equal(stats().participant, 2);

    // Same tokens (same user and device), a new WebSocket session; the old one stays open.
    const again = await new Bot(old.tokens, 3).connect(server.url);
    bots.push(again);
    await again.join(conv);
    assert.notEqual(again.participant, old.participant);
    assert.equal(stats().participant, 2, 'no ghost: the old participant is gone as soon as the new one joined');
    assert.equal(stats().pc, 3, "the old participant's two pcs are closed; the newcomer's sub pc is open");

    await until(() => old.rtcFrames('closed').length > 0, 10_000, 'the old session is told');
    const closed = old.rtcFrames('closed')[0] as Extract<RtcFrame, { ev: 'closed' }>;
    assert.equal(closed.reason, REJOINED);
    const changes = () => bob.rtcFrames('participants-changed') as Extract<RtcFrame, { ev: 'participants-changed' }>[];
    await until(() => changes().some((f) => f.left.includes(old.participant)), 10_000, 'bob sees the old participant leave');
    const joined = again.rtcFrames('joined')[0] as Extract<RtcFrame, { ev: 'joined' }>;
    assert.deepEqual(
      joined.participants.map((p) => p.id),
      [bob.participant],
      "the newcomer's snapshot has bob only",
    );
    await assert.rejects(old.client.request({ t: 'rtc.mute', kind: 'audio', muted: true }), /NOT_FOUND/, 'the old session is no longer in the room');

    // The new session publishes and bob hears it.
    await again.publish();
    again.startMedia();
    const fromNew = () => bob.streams().filter(([, r]) => r.payloads.some((p) => p[r.kind === 'audio' ? 0 : 5] === 3)).length;
    await until(() => fromNew() === 2, 20_000, 'bob receives audio and video of the new session');
  });
});

/**
 * DTLS handshakes that are slow, as on a loaded server: a bot's pcs go through a loopback proxy that
 * holds every DTLS datagram 0.7 s and sends it twice, so each side retransmits its flights before
 * the answer arrives and sees every flight of the other side at least twice. Media must still flow
 * both ways (werift's DTLS client used to fail on a second HelloVerifyRequest: rtc/dtlsGuard.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Results, Tokens } from '@parley/protocol';
import { dtlsGuardStats } from '../../src/rtc/dtlsGuard.ts';
import { loopbackOnly } from '../../src/rtc/MeetingOptions.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';
import { Bot, until } from './bot.ts';
import { HandshakeProxy } from './handshake-proxy.ts';

describe('meetings: DTLS handshakes delayed and duplicated', () => {
  let server: TestServer;
  let proxy: HandshakeProxy;
  let slow: Bot;
  let direct: Bot;
  let conv = '';
  const extra: Bot[] = [];
  let watcherTokens: Tokens;

  before(async () => {
    server = await startServer({ meetings: { hostAddresses: ['127.0.0.1'], candidatePairFilter: loopbackOnly, ipv6: false, disconnectGraceMs: 60_000 } });
    proxy = new HandshakeProxy({ delayMs: 700, duplicate: true });
    const tokens = await Promise.all([register(server.url, 'slow'), register(server.url, 'direct'), register(server.url, 'passive')]);
    watcherTokens = tokens[2]!;
    slow = await new Bot(tokens[0]!, 1, (s) => proxy.rewrite(s)).connect(server.url);
    direct = await new Bot(tokens[1]!, 2).connect(server.url);
    const group = await slow.client.request<Results['conv.group']>({ t: 'conv.group', name: 'slow', members: [tokens[1]!.user, tokens[2]!.user] });
    conv = group.conversation.id;
  });
  after(async () => {
    await Promise.allSettled([slow.close(), direct.close(), ...extra.map((b) => b.close())]);
    proxy.close();
    await server.stop();
  });

  it('a publisher and a subscriber behind the proxy both get media through', async () => {
    for (const b of [slow, direct]) {
      await b.join(conv);
      await b.publish();
      b.startMedia();
    }
    const tags = (b: Bot) => new Set(b.streams().flatMap(([, r]) => r.payloads.slice(0, 3).map((p) => p[r.kind === 'audio' ? 0 : 5])));
    const enough = (b: Bot) => b.received.size === 2 && [...b.received.values()].every((r) => r.seqs.length >= 20);
    // The direct bot hears the slow one (slow publishing pc), the slow one the direct one (slow subscribing pc).
    await until(() => enough(direct) && enough(slow), 60_000, 'media both ways through the slow handshakes');
    assert.deepEqual([...tags(direct)], [1]);
    assert.deepEqual([...tags(slow)], [2]);
    // The proxy did hold DTLS both ways of both pcs: at least flights 1–6 (and their copies) went through it.
    const held = [...proxy.dtlsTo.values()].reduce((a, b) => a + b, 0);
    assert.ok(proxy.dtlsTo.size >= 4, `DTLS datagrams to ${proxy.dtlsTo.size} endpoints (both ends of two pcs)`);
    assert.ok(held >= 12, `${held} DTLS datagrams held`);
    assert.equal(server.node.meetings!.rooms.stats().participant, 2, 'nobody was closed');
    // The bot's werift DTLS clients (same process, guarded) saw the duplicated HelloVerifyRequests.
    assert.ok(dtlsGuardStats.droppedHelloVerify > 0, 'a repeated HelloVerifyRequest was dropped');
    // The SFU is the DTLS server of a publishing pc: it answers setup:passive.
    assert.match(slow.pubAnswer, /a=setup:passive/);
    assert.doesNotMatch(slow.pubAnswer, /a=setup:active/);
  });

  it('a subscriber that answers setup:passive (the SFU is the DTLS client) gets media through the proxy', async () => {
    // It only subscribes: the one werift DTLS client on its paths is the SFU's.
    const watcher = await new Bot(watcherTokens, 3, (s) => proxy.rewrite(s)).connect(server.url);
    watcher.subDtlsServer = true;
    extra.push(watcher);
    const dropped = dtlsGuardStats.droppedHelloVerify;
    await watcher.join(conv);
    // The direct bot's audio and video (it publishes since the first test).
    const fromDirect = () => watcher.streams().filter(([, r]) => r.seqs.length >= 20 && r.payloads.some((p) => p[r.kind === 'audio' ? 0 : 5] === 2)).length;
    await until(() => fromDirect() === 2, 60_000, 'media to the passive subscriber');
    assert.match(watcher.sub!.localDescription!.sdp, /a=setup:passive/);
    assert.ok(dtlsGuardStats.droppedHelloVerify > dropped, "the SFU's DTLS client dropped a repeated HelloVerifyRequest");
    assert.equal(server.node.meetings!.rooms.stats().participant, 3, 'nobody was closed');
  });
});

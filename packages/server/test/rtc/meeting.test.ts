/**
 * Meetings end to end on loopback: a real node (port 0), real WebSocket sessions, werift bots that
 * publish synthetic RTP and check what the SFU forwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Results, RtcFrame } from '@parley/protocol';
import { fastSrtpStats } from '../../src/rtc/forward/SrtpDecryptor.ts';
import { SRTP_AES128_CM_HMAC_SHA1_80 } from '../../src/rtc/forward/SrtpEncryptor.ts';
import { loopbackOnly } from '../../src/rtc/MeetingOptions.ts';
import type { RoomId } from '../../src/rtc/RoomTypes.ts';
import { verifyTurnCredentials } from '../../src/rtc/turn.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';
import { Bot, gaps, until } from './bot.ts';

/** Open UDP sockets of this process (ICE sockets of every pc, server's and bots'). */
function udpSockets(): number {
  const handles = (process as unknown as { _getActiveHandles(): { constructor: { name: string }; type?: string }[] })._getActiveHandles();
  return handles.filter((h) => h.constructor.name === 'Socket' && (h.type === 'udp4' || h.type === 'udp6')).length;
}

describe('meetings: SFU over loopback', () => {
  let server: TestServer;
  let bots: Bot[] = [];
  let conv = '';
  const stats = () => server.node.meetings!.rooms.stats();

  before(async () => {
    server = await startServer({
      meetings: { hostAddresses: ['127.0.0.1'], candidatePairFilter: loopbackOnly, ipv6: false, iceServers: [{ urls: 'stun:stun.example.org:3478' }], turn: { urls: ['turn:127.0.0.1:3478'], secret: 'turn-secret', ttlSeconds: 3600 } },
    });
    const tokens = await Promise.all([register(server.url, 'ann'), register(server.url, 'bob'), register(server.url, 'cat')]);
    bots = await Promise.all(tokens.map((t, i) => new Bot(t, i + 1).connect(server.url)));
    const [a] = bots;
    const group = await a!.client.request<Results['conv.group']>({ t: 'conv.group', name: 'standup', members: tokens.slice(1).map((t) => t.user) });
    conv = group.conversation.id;
  });
  after(async () => {
    await Promise.allSettled(bots.map((b) => b.close()));
    await server.stop();
  });

  it('three participants each receive the other two, audio and video, with continuous rewritten sequence numbers', async () => {
    for (const b of bots) {
      await b.join(conv);
      await b.publish();
      b.startMedia();
    }
    const joined = bots[2]!.rtcFrames('joined')[0] as Extract<RtcFrame, { ev: 'joined' }>;
    // The snapshot names those already announced; a join still in the current batch arrives in the
    // next participants-changed frame. Together: the first two, each once.
    const known = () => [...joined.participants.map((p) => p.id), ...(bots[2]!.rtcFrames('participants-changed') as Extract<RtcFrame, { ev: 'participants-changed' }>[]).flatMap((f) => f.joined.map((j) => j.id))];
    await until(() => known().length >= 2, 10_000, 'the third joiner knows the first two');
    assert.deepEqual(new Set(known()), new Set([bots[0]!.participant, bots[1]!.participant]), 'the third joiner sees the first two');
    assert.equal(known().length, 2, 'each once');
    // Its own TURN credentials (TURN REST scheme, for coturn's use-auth-secret), then the static entries.
    const [turn, stun] = joined.iceServers;
    assert.deepEqual(turn?.urls, ['turn:127.0.0.1:3478']);
    assert.ok(turn?.username?.endsWith(`:${bots[2]!.tokens.user}`));
    assert.ok(verifyTurnCredentials('turn-secret', turn!.username!, turn!.credential!), 'coturn would accept them');
    assert.deepEqual(stun, { urls: 'stun:stun.example.org:3478' });
    // Each bot gets four streams (2 peers x audio+video) and enough packets on each.
    await until(() => bots.every((b) => b.received.size === 4 && [...b.received.values()].every((r) => r.seqs.length >= 30)), 20_000, 'media from both peers');
    for (const b of bots) {
      const tags = new Set<number>();
      for (const [, r] of b.streams()) {
        assert.equal(r.ssrcs.size, 1, 'one SSRC per forwarded stream');
        const [ssrc] = r.ssrcs;
        assert.ok(ssrc !== undefined && ssrc !== 0x1000 + b.tag && ssrc !== 0x2000 + b.tag);
        assert.equal(gaps(r.seqs), 0, `continuous sequence numbers on ${r.kind} to bot ${b.tag}`);
        for (const p of r.payloads.slice(0, 5)) tags.add(p[r.kind === 'audio' ? 0 : 5] ?? -1);
      }
      assert.deepEqual([...tags].sort(), [1, 2, 3].filter((t) => t !== b.tag), `bot ${b.tag} hears exactly the other two`);
    }
    // A subscriber joining made the SFU ask each video publisher for a keyframe.
    assert.ok(bots[0]!.plis > 0, 'PLI reached the first publisher');
    const s = stats();
    assert.equal(s.participant, 3);
    assert.equal(s.pc, 6, 'one publishing and one subscribing pc each');
    assert.equal(s.track, 6);
    assert.equal(s.downtrack, 12);
    // Every server pc, publishing and subscribing, negotiated AES-CM (Peer.preferAesCm; werift
    // alone picks GCM), so what arrives is decrypted by CmDecryptor: RTP from the publishers,
    // RTCP from the subscribers.
    type Srtp = { srtp?: { remoteContext?: { profile: number } } };
    const room = server.node.meetings!.rooms.room(conv as RoomId)!;
    for (const p of room.participants()) {
      for (const peer of [p.publisher!.peer, p.subscriber.peer]) {
        for (const t of peer.pc.dtlsTransports) assert.equal((t as unknown as Srtp).srtp?.remoteContext?.profile, SRTP_AES128_CM_HMAC_SHA1_80);
      }
    }
    const before = { ...fastSrtpStats };
    await until(() => fastSrtpStats.rtp > before.rtp + 50 && fastSrtpStats.rtcp > before.rtcp, 10_000, 'packets through CmDecryptor');
  });

  it('mute stops the forwarded audio, video goes on, unmute resumes without a sequence gap', async () => {
    const [a, b, c] = bots as [Bot, Bot, Bot];
    const audioFromA = (x: Bot) => x.streams().find(([, r]) => r.kind === 'audio' && r.payloads[0]?.[0] === a.tag)![1];
    const videoFromA = (x: Bot) => x.streams().find(([, r]) => r.kind === 'video' && r.payloads[0]?.[5] === a.tag)![1];
    const res = await a.client.request<Results['rtc.mute']>({ t: 'rtc.mute', kind: 'audio', muted: true });
    assert.equal(res.tracks.length, 1);
    await b.client.waitFor((f) => f.t === 'rtc' && f.ev === 'track-muted' && f.muted, 3000, 'track-muted');
    await new Promise((r) => setTimeout(r, 150)); // packets already in flight
    const [audioB, videoB, audioC] = [audioFromA(b).seqs.length, videoFromA(b).seqs.length, audioFromA(c).seqs.length];
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(audioFromA(b).seqs.length, audioB, 'no audio from a muted participant');
    assert.equal(audioFromA(c).seqs.length, audioC);
    assert.ok(videoFromA(b).seqs.length > videoB + 5, 'video still flows');
    await a.client.request({ t: 'rtc.mute', kind: 'audio', muted: false });
    await until(() => audioFromA(b).seqs.length > audioB + 10, 5000, 'audio after unmute');
    assert.equal(gaps(audioFromA(b).seqs), 0, 'the rewriter hides the muted stretch');
    const ts = audioFromA(b).timestamps;
    assert.ok(((ts[audioB]! - ts[audioB - 1]!) >>> 0) > 960 * 10, 'timestamps advanced by the muted time');
  });

  it('bad signaling gets a clear error and disturbs no one', async () => {
    const [a, b] = bots as [Bot, Bot];
    const outsiderTokens = await register(server.url, 'eve');
    const eve = await new Bot(outsiderTokens, 9).connect(server.url);
    try {
      await assert.rejects(eve.client.request({ t: 'rtc.join', room: 'c_no_such_room' }), { code: 'NOT_FOUND' });
      await assert.rejects(eve.client.request({ t: 'rtc.join', room: conv }), { code: 'NOT_MEMBER' });
      await assert.rejects(eve.client.request({ t: 'rtc.join', room: 'ml1.Zm9v.9999999999.forged' }), { code: 'NOT_FOUND' });
      await assert.rejects(eve.client.request({ t: 'rtc.offer', pc: 'pub', sdp: 'v=0\r\n' }), { code: 'NOT_FOUND' }, 'not in a room');
      // Garbage from a participant: INVALID, and its pcs and everyone's media are unaffected.
      await assert.rejects(a.client.request({ t: 'rtc.offer', pc: 'pub', sdp: 'hello' }), { code: 'INVALID' });
      await assert.rejects(a.client.request({ t: 'rtc.offer', pc: 'pub', sdp: 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\ngarbage' }), { code: 'INVALID' });
      await assert.rejects(a.client.request({ t: 'rtc.answer', pc: 'sub', sdp: 'v=0\r\nm=video nonsense' }), { code: 'INVALID' });
      await assert.rejects(a.client.request({ t: 'rtc.offer', pc: 'sub', sdp: 'v=0\r\n' }), { code: 'INVALID' });
      await assert.rejects(a.client.request({ t: 'rtc.ice', pc: 'sub', candidate: { candidate: 'candidate:garbage' } }), { code: 'INVALID' });
      await assert.rejects(a.client.request({ t: 'rtc.mute', kind: 'video', muted: true, track: 'tr_nope' }), { code: 'NOT_FOUND' });
      const before = [...b.received.values()].map((r) => r.seqs.length);
      await until(() => [...b.received.values()].every((r, i) => r.seqs.length > (before[i] ?? 0) + 5), 5000, 'media still flowing');
      assert.equal(stats().participant, 3);
      // A meeting link lets the outsider in; it is signed and bound to the conversation.
      const link = await a.client.request<Results['rtc.link']>({ t: 'rtc.link', conv });
      await assert.rejects(eve.client.request({ t: 'rtc.link', conv }), { code: 'NOT_MEMBER' });
      const joined = await eve.join(link.token);
      assert.equal(joined.room, conv);
      await b.client.waitFor((f) => f.t === 'rtc' && f.ev === 'participants-changed' && f.joined.some((j) => j.id === joined.participant), 3000, 'eve joined');
      await eve.client.request({ t: 'rtc.leave' });
      await b.client.waitFor((f) => f.t === 'rtc' && f.ev === 'participants-changed' && f.left.includes(joined.participant), 3000, 'eve left');
    } finally {
      await eve.close();
    }
  });

  it('a participant whose session ends disappears from the others and leaves nothing behind', async () => {
    const [a, b, c] = bots as [Bot, Bot, Bot];
    const cId = c.participant;
    c.stopMedia();
    c.closed = true;
    c.client.close(); // the page went away: no rtc.leave, its pcs stay open on its side
    await Promise.all([a, b].map((x) => x.client.waitFor((f) => f.t === 'rtc' && f.ev === 'participants-changed' && f.left.includes(cId), 5000, 'participant-left')));
    await until(() => stats().participant === 2 && stats().pc === 4 && stats().track === 4 && stats().downtrack === 4, 5000, 'server freed c');
    // The others renegotiate their subscribing pcs without c's tracks, and keep receiving each other.
    await until(() => a.rtcFrames('offer').length >= 2, 5000, 'renegotiation');
    const count = () => [...a.received.values()].reduce((n, r) => n + r.seqs.length, 0);
    const n0 = count();
    await until(() => count() > n0 + 20, 5000, 'a still receives b');
    await c.close();
    // Everyone leaves: the room closes and the server holds no pc, track or timer.
    await a.client.request({ t: 'rtc.leave' });
    await b.client.request({ t: 'rtc.leave' });
    await until(() => Object.values(stats()).every((v) => v === 0), 5000, 'all resources freed');
    assert.deepEqual(stats(), { room: 0, participant: 0, pc: 0, track: 0, downtrack: 0, timer: 0 });
    assert.equal(server.node.meetings!.commands.participants, 0);
    // And no UDP socket is left open once the bots are gone too.
    await Promise.all([a.close(), b.close()]);
    await until(() => udpSockets() === 0, 5000, 'UDP sockets closed');
  });
});

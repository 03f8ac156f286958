/**
 * Room policies end to end with werift bots on loopback: the dominant speaker follows the loud
 * participant (RFC 6464 levels in the bots' audio), and audio last-N forwards only the top speakers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Results, RtcFrame } from '@parley/protocol';
import { loopbackOnly } from '../../src/rtc/MeetingOptions.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';
import { Bot, until } from '../rtc/bot.ts';

describe('room policies: dominant speaker, audio last-N', () => {
  let server: TestServer;
  let bots: Bot[] = [];
  let conv = '';
  const stats = () => server.node.meetings!.rooms.stats();

  before(async () => {
    server = await startServer({ meetings: { hostAddresses: ['127.0.0.1'], candidatePairFilter: loopbackOnly, ipv6: false, audioN: 1 } });
    const tokens = await Promise.all([register(server.url, 'ann'), register(server.url, 'bob'), register(server.url, 'cat')]);
    bots = await Promise.all(tokens.map((t, i) => new Bot(t, i + 1).connect(server.url)));
    const group = await bots[0]!.client.request<Results['conv.group']>({ t: 'conv.group', name: 'talk', members: tokens.slice(1).map((t) => t.user) });
    conv = group.conversation.id;
  });
  after(async () => {
    // A peer connection that never finished connecting may not close promptly: don't let it hold
    // the file open.
    const settle = <T,>(p: Promise<T>) => Promise.race([p, new Promise((r) => setTimeout(r, 15_000).unref())]);
    await settle(Promise.allSettled(bots.map((b) => b.close())));
    await settle(server.stop());
  });

  /** Audio packets `b` got from each other bot (by the tag in the payload), since `from` (per mid). */
  const heard = (b: Bot) => {
    const out = new Map<number, number>();
    for (const r of b.received.values()) if (r.kind === 'audio') for (const p of r.payloads) out.set(p[0] ?? -1, (out.get(p[0] ?? -1) ?? 0) + 1);
    return out;
  };
  const speakerFrames = (b: Bot) => b.rtcFrames('speaker') as Extract<RtcFrame, { ev: 'speaker' }>[];

  it('the dominant-speaker event follows the loud participant; only the top speaker is heard with audioN = 1', { timeout: 120_000 }, async () => {
    const [a, b, c] = bots as [Bot, Bot, Bot];
    for (const x of bots) {
      await x.join(conv);
      await x.publish();
      x.startMedia();
    }
    a.level = 25; // loud voice; the others send silence (127)
    await Promise.all(bots.map((x) => until(() => speakerFrames(x).at(-1)?.participant === a.participant, 15_000, `speaker a to bot ${x.tag}`)));
    // c hears a; b is silent and, beyond audioN, not forwarded.
    await until(() => (heard(c).get(a.tag) ?? 0) > 50, 10_000, 'c hears a');
    // a keeps flowing to c (no fixed time window: the machine may be loaded), and over the same
    // stretch nothing of silent b arrives.
    const before1 = heard(c);
    await until(() => (heard(c).get(a.tag) ?? 0) - (before1.get(a.tag) ?? 0) > 20, 10_000, 'a keeps flowing to c');
    const after1 = heard(c);
    assert.equal((after1.get(b.tag) ?? 0) - (before1.get(b.tag) ?? 0), 0, 'silent b is not forwarded to c');

    // b starts talking, a stops: the floor moves to b (after the hold), and so does c's audio.
    a.level = 127;
    b.level = 20;
    await Promise.all(bots.map((x) => until(() => speakerFrames(x).at(-1)?.participant === b.participant, 15_000, `speaker b to bot ${x.tag}`)));
    const last = speakerFrames(c).at(-1)!;
    assert.equal(last.speakers[0], b.participant, 'the most recent speaker first');
    await until(() => (heard(c).get(b.tag) ?? 0) > 30, 10_000, 'c hears b');
    assert.equal(server.node.meetings!.rooms.room(conv as never)?.dominant, b.participant);
    // No flapping: one change per handover.
    assert.deepEqual(
      speakerFrames(c).map((f) => f.participant),
      [a.participant, b.participant],
    );

    for (const x of bots) {
      x.closed = true; // answers to the last offers may now meet NOT_FOUND
      await x.client.request({ t: 'rtc.leave' });
    }
    await until(() => Object.values(stats()).every((v) => v === 0), 10_000, 'ledger empty');
  });

  it('a burst of joins reaches the others in a few batched participants-changed frames, each join once', { timeout: 60_000 }, async () => {
    const [a] = bots as [Bot];
    // Start from an empty room even if the test before stopped half-way.
    for (const x of bots) {
      x.closed = true;
      await x.client.request({ t: 'rtc.leave' }).catch(() => {});
    }
    await until(() => Object.values(stats()).every((v) => v === 0), 10_000, 'ledger empty before the burst');
    a.closed = false;
    await a.join(conv);
    const tokens = await Promise.all(Array.from({ length: 12 }, (_, i) => register(server.url, `burst${i}`)));
    await a.client.request({ t: 'conv.add', conv, users: tokens.map((t) => t.user) });
    const crowd = await Promise.all(tokens.map((t, i) => new Bot(t, 100 + i).connect(server.url)));
    bots.push(...crowd);
    const from = a.rtcFrames('participants-changed').length;
    await Promise.all(crowd.map((b) => b.join(conv)));
    const batches = () => a.rtcFrames('participants-changed').slice(from) as Extract<RtcFrame, { ev: 'participants-changed' }>[];
    await until(() => batches().flatMap((f) => f.joined).length >= 12, 10_000, 'all 12 announced');
    const ids = batches().flatMap((f) => f.joined.map((j) => j.id));
    assert.equal(new Set(ids).size, 12);
    assert.equal(ids.length, 12, 'each join announced once');
    assert.ok(batches().length <= 3, `${batches().length} frames for 12 joins`);
    // The last joiner's snapshot plus its batches name each of the others exactly once.
    const last = crowd.at(-1)!;
    const snapshot = (last.rtcFrames('joined')[0] as Extract<RtcFrame, { ev: 'joined' }>).participants.map((p) => p.id);
    await until(() => snapshot.length + (last.rtcFrames('participants-changed') as Extract<RtcFrame, { ev: 'participants-changed' }>[]).flatMap((f) => f.joined).length >= 12, 5_000, 'the last joiner knows everyone');
    const known = [...snapshot, ...(last.rtcFrames('participants-changed') as Extract<RtcFrame, { ev: 'participants-changed' }>[]).flatMap((f) => f.joined.map((j) => j.id))];
    assert.equal(known.length, new Set(known).size, 'nobody twice');
    assert.equal(known.length, 12, 'a and the 11 others');
    for (const b of [a, ...crowd]) {
      b.closed = true;
      await b.client.request({ t: 'rtc.leave' });
    }
    await until(() => Object.values(stats()).every((v) => v === 0), 10_000, 'ledger empty');
  });
});

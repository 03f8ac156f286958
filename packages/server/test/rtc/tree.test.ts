/**
 * The ownership tree without a server or a network: RoomManager → Room → Participant →
 * Publisher / Subscriber → tracks, driven with real werift offers and fake signaling channels.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket } from 'werift';
import type { DeviceId, RtcFrame, UserId } from '@parley/protocol';
import { resolveMeetingOptions } from '../../src/rtc/MeetingOptions.ts';
import { DownTrack } from '../../src/rtc/DownTrack.ts';
import type { Participant } from '../../src/rtc/Participant.ts';
import { PublishedTrack } from '../../src/rtc/PublishedTrack.ts';
import { RoomManager } from '../../src/rtc/RoomManager.ts';
import type { RoomId, SignalChannel, TrackId, ParticipantId } from '../../src/rtc/RoomTypes.ts';
import { loopbackPeer } from './bot.ts';

const log = pino({ level: 'silent' });
const options = resolveMeetingOptions({ hostAddresses: ['127.0.0.1'], ipv6: false, presenceBatchMs: 5 });

class FakeChannel implements SignalChannel {
  static n = 0;
  readonly id = `ch${FakeChannel.n++}`;
  readonly frames: RtcFrame[] = [];
  private handlers = new Set<() => void>();
  send(frame: RtcFrame): void {
    this.frames.push(frame);
  }
  onClose(fn: () => void): () => void {
    this.handlers.add(fn);
    return () => void this.handlers.delete(fn);
  }
  end(): void {
    for (const h of [...this.handlers]) h();
  }
  events(ev: RtcFrame['ev']): RtcFrame[] {
    return this.frames.filter((f) => f.ev === ev);
  }
}

const who = (n: number) => ({ user: `u_${n}` as UserId, device: `d_${n}` as DeviceId });
const clientPcs: RTCPeerConnection[] = [];

/** A client's publishing offer with one audio and one video m-line (never connected). */
async function clientOffer(): Promise<string> {
  const pc = new RTCPeerConnection(loopbackPeer);
  clientPcs.push(pc);
  pc.addTransceiver(new MediaStreamTrack({ kind: 'audio' }), { direction: 'sendonly' });
  pc.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  return pc.localDescription!.sdp;
}

async function roomOfThree(rooms: RoomManager) {
  const chans = [new FakeChannel(), new FakeChannel(), new FakeChannel()];
  const ps: Participant[] = [];
  for (const [i, ch] of chans.entries()) {
    const p = rooms.join('c_room' as RoomId, who(i), ch);
    ps.push(p);
    await p.offer('pub', await clientOffer(), new Map());
  }
  return { chans, ps };
}

const settle = () => new Promise((r) => setTimeout(r, 20));
const zero = { room: 0, participant: 0, pc: 0, track: 0, downtrack: 0, timer: 0 };

describe('rtc ownership tree', () => {
  it('wires every published track to every other participant', async () => {
    const rooms = new RoomManager(options, log);
    const { chans, ps } = await roomOfThree(rooms);
    await settle();
    assert.deepEqual(rooms.stats(), { room: 1, participant: 3, pc: 6, track: 6, downtrack: 12, timer: rooms.stats().timer });
    for (const p of ps) assert.equal(p.subscriber.downTracks().length, 4);
    // Frames: the first participant heard about the two others and all four of their tracks.
    assert.equal(chans[0]!.events('participants-changed').flatMap((e) => (e as Extract<RtcFrame, { ev: 'participants-changed' }>).joined).length, 2);
    assert.equal(chans[0]!.events('track-published').length, 6, 'its own two tracks and the others\' four');
    const offers = chans[0]!.events('offer') as Extract<RtcFrame, { ev: 'offer' }>[];
    assert.equal(offers.length, 1, 'the next offer waits for the answer to this one');
    assert.equal(Object.keys(offers[0]!.mids).length, 2);
    rooms.close();
    assert.deepEqual(rooms.stats(), zero);
  });

  it('close cascades and is idempotent: a leaving participant takes its pcs, tracks and the others\' down tracks', async () => {
    const rooms = new RoomManager(options, log);
    const { chans, ps } = await roomOfThree(rooms);
    // Let the joins go out first: a join and leave within one batch is (rightly) never announced.
    await settle();
    const [a, b, c] = ps as [Participant, Participant, Participant];
    const pcs = [a.publisher!.peer.pc, a.subscriber.peer.pc];
    let closes = 0;
    a.on('close', () => (closes += 1));
    a.on('close', () => {
      throw new Error('a bad listener');
    });
    a.close();
    a.close();
    assert.equal(closes, 1);
    await settle();
    assert.ok(pcs.every((pc) => pc.connectionState === 'closed'));
    assert.equal(b.subscriber.downTracks().length, 2, "a's two tracks are gone from b");
    assert.deepEqual(chans[1]!.events('participants-changed').flatMap((e) => (e as Extract<RtcFrame, { ev: 'participants-changed' }>).left), [a.id]);
    assert.deepEqual({ ...rooms.stats(), timer: 0 }, { ...zero, room: 1, participant: 2, pc: 4, track: 4, downtrack: 4 });
    // Its session ending closes a participant as well.
    chans[2]!.end();
    assert.ok(c.closed);
    b.close();
    await settle();
    assert.deepEqual(rooms.stats(), zero, 'the empty room closed, with its timers');
    assert.equal(rooms.room('c_room' as RoomId), undefined);
  });

  it('closing the manager closes everything and tells the clients', async () => {
    const rooms = new RoomManager(options, log);
    const { chans, ps } = await roomOfThree(rooms);
    rooms.close();
    rooms.close();
    assert.ok(ps.every((p) => p.closed));
    assert.deepEqual(rooms.stats(), zero);
    assert.equal(chans[0]!.events('closed').length, 1);
    assert.throws(() => rooms.join('c_x' as RoomId, who(9), new FakeChannel()));
  });

  it('a published track forwards to its down tracks, rewritten, and closes them when it closes', () => {
    const rooms = new RoomManager(options, log);
    const ctx = rooms.ctx;
    let plis = 0;
    const track = new PublishedTrack(ctx, { id: 'tr_1' as TrackId, owner: 'p_1' as ParticipantId, kind: 'video', source: 'camera', clockRate: 90000 }, { requestKeyframe: () => (plis += 1) > 0 });
    const sent: { seq: number; ts: number; payload: Buffer }[][] = [[], []];
    const downs = [0, 1].map(
      (i) =>
        new DownTrack(ctx, track, {
          ssrc: 100 + i,
          send: (payload, _marker, seq, ts) => sent[i]!.push({ seq, ts, payload }),
          onKeyframeRequest: () => () => {},
        }),
    );
    const packet = (seq: number) => new RtpPacket(new RtpHeader({ ssrc: 5, sequenceNumber: seq, timestamp: seq * 3000, payloadType: 96 }), Buffer.from([0x10, 0x00, 3])); // each a VP8 keyframe's first packet
    track.forward(packet(1)); // before start: nothing is sent
    downs[0]!.start();
    assert.equal(plis, 1, 'a starting subscriber asks for a keyframe');
    for (let s = 2; s < 6; s++) track.forward(packet(s));
    downs[1]!.start();
    track.forward(packet(6));
    assert.equal(sent[0]!.length, 5);
    assert.equal(sent[1]!.length, 1);
    const seqs = sent[0]!.map((p) => p.seq);
    assert.deepEqual(seqs, seqs.map((_, k) => (seqs[0]! + k) & 0xffff), 'one continuous sequence');
    assert.deepEqual(sent[0]![0]!.payload, Buffer.from([0x10, 0x00, 3]));
    assert.equal(downs[1]!.rewriter.ssrc, 101);
    assert.equal(packet(7).header.ssrc, 5, 'the publisher packet is never modified');
    track.close();
    track.close();
    assert.ok(downs.every((d) => d.closed));
    assert.deepEqual(rooms.stats(), zero);
  });

  it('a published track\'s layer snapshot is shared within a millisecond and follows every change', () => {
    const rooms = new RoomManager(options, log);
    const track = new PublishedTrack(rooms.ctx, { id: 'tr_2' as TrackId, owner: 'p_2' as ParticipantId, kind: 'video', source: 'camera', clockRate: 90000 }, { requestKeyframe: () => true });
    const packet = (ssrc: number, payload = Buffer.from([0x11, 0x00])) => new RtpPacket(new RtpHeader({ ssrc, sequenceNumber: 1, timestamp: 0, payloadType: 96 }), payload);
    const now = 1_000_000;
    assert.deepEqual(track.layers(now), []);
    track.forward(packet(7), 'q');
    const first = track.layers(now);
    assert.deepEqual(first.map((l) => [l.id, l.ssrc]), [['q', 7]], 'a new layer shows in the same millisecond');
    assert.equal(track.layers(now), first, 'one snapshot per millisecond');
    track.forward(packet(8), 'h');
    assert.deepEqual(track.layers(now).map((l) => l.id), ['q', 'h']);
    track.forward(packet(9), 'q');
    assert.equal(track.layers(now).find((l) => l.id === 'q')?.ssrc, 9, 'a new SSRC on a layer shows at once');
    // A VP8 keyframe tells the real size: 160×90 (the 3-byte start code, then 14-bit width and height).
    const key = Buffer.from([0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 160, 0, 90, 0]);
    track.forward(packet(9, key), 'q');
    assert.deepEqual(track.layers(now).map((l) => [l.id, l.width, l.height]).find((l) => l[0] === 'q'), ['q', 160, 90]);
    assert.equal(track.layers(Date.now() + 10_000).every((l) => !l.live), true, 'a later time is a new snapshot: nothing live');
    track.close();
    rooms.close();
  });

  it('leaves no client pc open', async () => {
    await Promise.all(clientPcs.map((pc) => pc.close()));
  });
});

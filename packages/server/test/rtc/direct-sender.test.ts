/**
 * DirectSender between two real werift peer connections on loopback: what it writes is valid
 * SRTP the receiver decrypts, with the negotiated payload type, mid and transport-wide sequence
 * numbers; a packet lost on the way comes back by NACK (as RTX); werift's sender reports carry
 * our counters. Also the RtxRing on its own.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RTCPeerConnection,
  RTP_EXTENSION_URI,
  RtcpSrPacket,
  type RtpPacket,
} from 'werift';
import { DirectSender } from '../../src/rtc/forward/DirectSender.ts';
import { RtxRing } from '../../src/rtc/forward/RtxRing.ts';
import { until } from './bot.ts';
import { connectPair, videoPeer } from './pair.ts';

describe('RtxRing', () => {
  it('gives back what was put, once per resend interval, until overwritten', () => {
    const ring = new RtxRing(8, 10);
    const p = Buffer.from([1, 2, 3]);
    ring.put(100, 5000, true, p);
    assert.deepEqual(ring.take(100, 0), { seq: 100, timestamp: 5000, marker: true, payload: p });
    assert.equal(ring.take(100, 5), null, 'not twice within 10 ms');
    assert.ok(ring.take(100, 20));
    assert.equal(ring.take(101, 20), null, 'never sent');
    ring.put(108, 1, false, p); // same slot
    assert.equal(ring.take(100, 100), null, 'overwritten');
    assert.throws(() => new RtxRing(100), RangeError);
  });
});

describe('DirectSender', () => {
  const pcs: RTCPeerConnection[] = [];
  after(async () => {
    await Promise.all(pcs.map((pc) => pc.close()));
  });

  it('sends SRTP werift receives, retransmits a lost packet on NACK, and feeds sender reports', async () => {
    const a = new RTCPeerConnection(videoPeer());
    const b = new RTCPeerConnection(videoPeer());
    pcs.push(a, b);
    const tr = a.addTransceiver('video', { direction: 'sendonly' });
    const received = new Map<number, { packet: RtpPacket; twcc: unknown }>();
    const reports: RtcpSrPacket[] = [];
    b.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((packet, ext) => received.set(packet.header.sequenceNumber, { packet, twcc: (ext as Record<string, unknown> | undefined)?.[RTP_EXTENSION_URI.transportWideCC] }));
    });
    await connectPair(a, b);
    b.getTransceivers()[0]!.receiver.onRtcp.subscribe((p) => {
      if (p instanceof RtcpSrPacket) reports.push(p);
    });

    const sent: number[] = [];
    const direct = new DirectSender(tr.sender, { onSent: (wideSeq) => sent.push(wideSeq) });
    // Drop the datagram of sequence number 1005 once, at the receiving socket (SRTP leaves bytes
    // 2–3 in clear): the sender's datagrams leave through the socket's handle, not socket.send.
    type Nominated = { nominated: { protocol: { transport: { socket: { emit: (event: string, ...r: unknown[]) => boolean } } } } };
    const pair = (b.getTransceivers()[0]!.receiver.dtlsTransport.iceTransport.connection as unknown as Nominated).nominated;
    const socket = pair.protocol.transport.socket;
    const origEmit = socket.emit.bind(socket);
    let dropped = 0;
    socket.emit = (event: string, ...rest: unknown[]) => {
      const buf = rest[0] as Buffer;
      if (event === 'message' && dropped === 0 && (buf[0]! & 0xc0) === 0x80 && buf[1]! < 200 && buf.readUInt16BE(2) === 1005) {
        dropped += 1;
        return true;
      }
      return origEmit(event, ...rest);
    };
    const payload = (i: number) => Buffer.from([0x10, 0x01, i, ...Buffer.alloc(200, i)]);
    for (let i = 0; i < 20; i++) {
      direct.send(payload(i), i % 5 === 4, 1000 + i, 90_000 + i * 3000);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(dropped, 1);
    await until(() => received.size === 20, 20_000, 'all 20, the lost one by NACK');
    assert.ok(direct.retransmitted >= 1);
    // Every payload intact: the encryptor reuses its output memory after each synchronous send.
    for (let i = 0; i < 20; i++) assert.deepEqual(received.get(1000 + i)!.packet.payload, payload(i), `packet ${1000 + i}`);
    const lost = received.get(1005)!.packet;
    assert.deepEqual(lost.payload, payload(5));
    assert.equal(lost.header.timestamp, 90_000 + 5 * 3000);
    const first = received.get(1004)!;
    assert.equal(first.packet.header.marker, true);
    assert.equal(first.packet.header.payloadType, tr.sender.codec!.payloadType);
    assert.equal(first.packet.header.ssrc, tr.sender.ssrc);
    assert.equal(typeof first.twcc, 'number', 'transport-wide sequence number present');
    assert.deepEqual(sent.slice(0, 19), sent.slice(0, 19).map((_, i) => (sent[0]! + i) & 0xffff), 'one wide sequence per packet');
    await until(() => reports.some((r) => r.ssrc === tr.sender.ssrc && r.senderInfo.packetCount >= 20), 20_000, 'a sender report with our counters');
    const sr = reports.find((r) => r.senderInfo.packetCount >= 20)!;
    assert.equal(sr.senderInfo.rtpTimestamp, 90_000 + 19 * 3000);
    const ntpSecs = Number(sr.senderInfo.ntpTimestamp >> 32n) - 2208988800;
    assert.ok(Math.abs(ntpSecs - Date.now() / 1000) < 60, 'NTP time is wall time');
    direct.close();
    socket.emit = origEmit;
  });
});

/**
 * SenderReports: the compound packet parses as RTCP (werift's parser) with every sender's SR and
 * CNAME; large rounds split under the size limit; the timer reports until the last sender leaves.
 * Then between two real werift peer connections: two DirectSenders of one pc report in one
 * datagram, the receiver sees both SRs with our counters, and the sender's round-trip time comes
 * out of the receiver's reports (so what werift's RTT computation reads is recorded).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RTCPeerConnection,
  RtcpPacketConverter,
  RtcpSourceDescriptionPacket,
  RtcpSrPacket,
} from 'werift';
import { DirectSender, ntpOf } from '../../src/rtc/forward/DirectSender.ts';
import { compound, SenderReports, type RtcpTransport, type SenderReport } from '../../src/rtc/forward/SenderReports.ts';
import { until } from './bot.ts';
import { connectPair, videoPeer } from './pair.ts';

/** A transport that records what it is asked to send. */
function recorder(): RtcpTransport & { sent: Buffer[] } {
  const sent: Buffer[] = [];
  return { sent, sendRtcp: async (packets) => void sent.push(Buffer.concat(packets.map((p) => p.serialize()))) };
}

const report = (transport: RtcpTransport, ssrc: number, cname?: string): SenderReport => ({
  transport,
  ssrc,
  ntp: ntpOf(Date.UTC(2026, 11, 7, 10, 0, 0, 250)),
  rtpTimestamp: 0xfffffff0 + ssrc,
  packets: 1000 + ssrc,
  octets: 500_000 + ssrc,
  cname,
});

describe('SenderReports', () => {
  it('writes one SR per sender and one SDES with their CNAMEs, as werift parses them', () => {
    const t = recorder();
    const buf = compound([report(t, 1, 'abc'), report(t, 2), report(t, 3, 'a-longer-cname-ü')]);
    assert.equal(buf.length % 4, 0);
    const packets = RtcpPacketConverter.deSerialize(buf);
    const srs = packets.filter((p): p is RtcpSrPacket => p instanceof RtcpSrPacket);
    assert.deepEqual(
      srs.map((p) => [p.ssrc, p.senderInfo.rtpTimestamp, p.senderInfo.packetCount, p.senderInfo.octetCount]),
      [1, 2, 3].map((i) => [i, (0xfffffff0 + i) >>> 0, 1000 + i, 500_000 + i]),
    );
    assert.equal(srs[0]!.senderInfo.ntpTimestamp, ntpOf(Date.UTC(2026, 11, 7, 10, 0, 0, 250)));
    const sdes = packets.filter((p): p is RtcpSourceDescriptionPacket => p instanceof RtcpSourceDescriptionPacket);
    assert.equal(sdes.length, 1);
    assert.deepEqual(
      sdes[0]!.chunks.map((c) => [c.source, c.items.map((i) => [i.type, i.text])]),
      [
        [1, [[1, 'abc']]],
        [3, [[1, 'a-longer-cname-ü']]],
      ],
    );
    // Every chunk ends its items with a zero byte, even when the CNAME fills a word exactly.
    const exact = compound([report(t, 9, 'ab')]);
    assert.equal(exact.length, 28 + 4 + 12);
    assert.equal(exact[28 + 4 + 4 + 2 + 2], 0);
    assert.equal(packets[0]!.type, 200, 'a compound starts with an SR');
  });

  it('groups by transport, splits rounds under the size limit, and skips senders that cannot report', () => {
    const a = recorder();
    const b = recorder();
    const r = new SenderReports(1000, 200);
    const senders = Array.from({ length: 9 }, (_, i) => ({ report: () => (i === 4 ? null : report(i < 6 ? a : b, i + 1, `cname-${i}`)) }));
    for (const s of senders) r.add(s);
    assert.equal(r.flush(), 2 + 1, 'a: 5 reports of 44 bytes, 4 fit in 200 with the SDES header; b: 3 in one');
    assert.equal(a.sent.length, 2);
    for (const buf of [...a.sent, ...b.sent]) assert.ok(buf.length <= 200, `${buf.length} bytes`);
    const ssrcs = (bufs: Buffer[]) => bufs.flatMap((x) => RtcpPacketConverter.deSerialize(x).filter((p) => p instanceof RtcpSrPacket).map((p) => (p as RtcpSrPacket).ssrc));
    assert.deepEqual(ssrcs(a.sent), [1, 2, 3, 4, 6]);
    assert.deepEqual(ssrcs(b.sent), [7, 8, 9]);
    r.close();
    assert.equal(r.flush(), 0);
  });

  it('reports every interval while senders are added, and stops when the last one leaves', async () => {
    const t = recorder();
    const r = new SenderReports(20);
    const s = { report: () => report(t, 5, 'x') };
    r.add(s);
    await until(() => t.sent.length >= 3, 5000, 'three rounds');
    r.remove(s);
    const n = t.sent.length;
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(t.sent.length, n, 'no round without senders');
    r.close();
  });
});

describe('SenderReports with DirectSenders between werift peers', () => {
  const pcs: RTCPeerConnection[] = [];
  after(async () => {
    await Promise.all(pcs.map((pc) => pc.close()));
  });

  it('sends both senders of a pc in one compound; the receiver gets our counters; the RTT comes back', async () => {
    const a = new RTCPeerConnection(videoPeer());
    const b = new RTCPeerConnection(videoPeer());
    pcs.push(a, b);
    const trs = [a.addTransceiver('video', { direction: 'sendonly' }), a.addTransceiver('video', { direction: 'sendonly' })];
    await connectPair(a, b);
    const reports: RtcpSrPacket[] = [];
    for (const t of b.getTransceivers()) t.receiver.onRtcp.subscribe((p) => p instanceof RtcpSrPacket && reports.push(p));

    // Count RTCP datagrams leaving a's DTLS transport.
    const dtls = trs[0]!.sender.dtlsTransport;
    assert.equal(trs[1]!.sender.dtlsTransport, dtls, 'bundled');
    let rtcpDatagrams = 0;
    const origSendRtcp = dtls.sendRtcp.bind(dtls);
    dtls.sendRtcp = (packets) => {
      rtcpDatagrams += 1;
      return origSendRtcp(packets);
    };
    const shared = new SenderReports(200);
    const directs = trs.map((t) => new DirectSender(t.sender, { reports: shared }));
    for (let i = 0; i < 10; i++) {
      for (const [k, d] of directs.entries()) d.send(Buffer.from([0x10, 0x01, i, ...Buffer.alloc(100, k)]), false, 2000 + i, 1000 * (k + 1) + i * 3000);
      await new Promise((r) => setTimeout(r, 10));
    }
    const ssrcs = trs.map((t) => t.sender.ssrc);
    await until(() => ssrcs.every((s) => reports.some((r) => r.ssrc === s && r.senderInfo.packetCount === 10)), 10_000, 'an SR from each sender');
    assert.equal(shared.size, 2);
    const rounds = rtcpDatagrams;
    assert.ok(rounds >= 1);
    // One datagram per round for both: the SRs came in pairs.
    const bySsrc = ssrcs.map((s) => reports.filter((r) => r.ssrc === s).length);
    assert.ok(Math.abs(bySsrc[0]! - bySsrc[1]!) <= 1, `${bySsrc}`);
    assert.ok(rtcpDatagrams <= Math.max(...bySsrc) + 1, `${rtcpDatagrams} datagrams for ${bySsrc} reports`);
    const last = reports.filter((r) => r.ssrc === ssrcs[1]).at(-1)!;
    assert.equal(last.senderInfo.rtpTimestamp, 2000 + 9 * 3000);
    assert.equal(last.senderInfo.octetCount, 10 * 103);
    // werift's receiver answers with receiver reports (LSR/DLSR): the sender works out the RTT.
    // (`rtt` is private in werift's types; DirectSender relies on werift internals the same way.)
    const rtt = (t: (typeof trs)[number]) => (t.sender as unknown as { rtt?: number }).rtt;
    await until(() => trs.every((t) => typeof rtt(t) === 'number'), 15_000, 'a round-trip time from the receiver reports');
    for (const t of trs) assert.ok(rtt(t)! >= 0 && rtt(t)! < 1, `rtt ${rtt(t)}`);
    for (const d of directs) d.close();
    assert.equal(shared.size, 0);
    shared.close();
  });
});

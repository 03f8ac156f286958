/**
 * `node --import tsx bench/sfu/sendto.ts`: CPU per loopback UDP datagram sent from Node, the
 * forwarding path's `sendDatagram` (rtc/forward/UdpOut.ts) against `Socket.send`, to 50 sockets
 * read by a child process; 1000-byte datagrams, 60,000/s for 10 s per mode, alternating. Compare
 * with bench/sfu/sendto.c (the same from C, with and without `sendmmsg`): the difference is what
 * Node adds on top of the system call. Figures in docs/benchmarks.md (## SFU).
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { sendDatagram } from '../../packages/server/src/rtc/forward/UdpOut.ts';

const SOCKETS = 50;
const TOTAL = 600_000;
const RATE = 60_000;

function bound(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}

if (process.argv[2] === 'reader') {
  const sockets = await Promise.all(Array.from({ length: SOCKETS }, bound));
  for (const s of sockets) s.on('message', () => {});
  process.send!(sockets.map((s) => s.address().port));
} else {
  const reader = fork(new URL(import.meta.url), ['reader'], { execArgv: ['--import', 'tsx'] });
  const ports = await new Promise<number[]>((resolve) => reader.once('message', (m) => resolve(m as number[])));
  const out = await bound();
  const pkt = Buffer.alloc(1000, 1);
  for (const mode of ['sendDatagram', 'Socket.send', 'sendDatagram', 'Socket.send']) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let sent = 0;
    await new Promise<void>((done) => {
      const tick = (): void => {
        const due = Math.min(TOTAL, ((performance.now() - t0) / 1000) * RATE);
        for (; sent < due; sent++) {
          const port = ports[sent % SOCKETS]!;
          if (mode === 'sendDatagram') sendDatagram(out, pkt, port, '127.0.0.1');
          else out.send(pkt, port, '127.0.0.1');
        }
        if (sent >= TOTAL) done();
        else setTimeout(tick, 1);
      };
      tick();
    });
    const c = process.cpuUsage(c0);
    console.log(`${mode.padEnd(12)}: ${((c.user + c.system) / TOTAL).toFixed(2)} us CPU per datagram`);
  }
  reader.kill();
  out.close();
}

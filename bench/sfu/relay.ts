/**
 * The ceiling for a Node data plane: a bare UDP relay, no WebRTC. It receives datagrams on one
 * socket and re-sends each one, unchanged, to every destination (the fan-out of a 1×N room).
 * bench/sfu/udpload.ts drives it. IPC: {t:'dests', ports} → {t:'ready', port}; 'stats' → counters.
 */
import dgram from 'node:dgram';

const sock = dgram.createSocket('udp4');
let dests: number[] = [];
let received = 0;
let sent = 0;
sock.on('message', (msg) => {
  received += 1;
  for (const port of dests) sock.send(msg, port, '127.0.0.1');
  sent += dests.length;
});
sock.bind(0, '127.0.0.1', () => {
  process.on('message', (raw: string | { t: string; ports?: number[] }) => {
    const m = typeof raw === 'string' ? { t: raw, ports: undefined } : raw;
    if (m.t === 'dests') {
      dests = m.ports ?? [];
      process.send?.({ t: 'ready', port: sock.address().port, pid: process.pid });
    } else if (m.t === 'stats') process.send?.({ t: 'stats', received, sent });
  });
  process.send?.({ t: 'up' });
});
process.on('disconnect', () => process.exit(0));

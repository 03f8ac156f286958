/**
 * Load for the bare UDP relay: one sender at the rate asked, `fanout` receiving sockets. Packets
 * are as big as the SFU bench's and carry the send time at the same offset, so latencies compare.
 * IPC: {t:'init', fanout, payloadBytes} → {t:'ports', ports}; {t:'target', port}; {t:'rate', rate};
 * 'stats' → {received, latency samples} (every 8th packet is timed, like the SFU bots).
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';

const now = () => performance.timeOrigin + performance.now();
let received = 0;
let rate = 0;
let target = 0;
let carry = 0;
let payload = Buffer.alloc(1000);
const latencies: number[] = [];
const sender = dgram.createSocket('udp4');
const sinks: dgram.Socket[] = [];

let last = performance.now();
setInterval(() => {
  const t = performance.now();
  const dt = Math.min(100, t - last);
  last = t;
  if (rate <= 0 || target === 0) return;
  carry += (rate * dt) / 1000;
  while (carry >= 1) {
    carry -= 1;
    const p = Buffer.from(payload);
    p.writeDoubleLE(now(), 2);
    sender.send(p, target, '127.0.0.1');
  }
}, 5);

process.on('message', (raw: string | { t: string; fanout?: number; payloadBytes?: number; port?: number; rate?: number }) => {
  const m = typeof raw === 'string' ? { t: raw } : raw;
  void (async () => {
    if (m.t === 'init') {
      payload = Buffer.alloc(('payloadBytes' in m ? m.payloadBytes : undefined) ?? 1000);
      payload[0] = 0x80;
      payload[1] = 96;
      for (let i = 0; i < (m.fanout ?? 1); i++) {
        const s = dgram.createSocket('udp4');
        s.on('message', (msg) => {
          if (++received % 8 === 0) latencies.push(now() - msg.readDoubleLE(2));
        });
        await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
        sinks.push(s);
      }
      await new Promise<void>((r) => sender.bind(0, '127.0.0.1', r));
      process.send?.({ t: 'ports', ports: sinks.map((s) => s.address().port) });
    } else if (m.t === 'target') {
      target = m.port ?? 0;
      process.send?.({ t: 'target' });
    } else if (m.t === 'rate') {
      rate = m.rate ?? 0;
      process.send?.({ t: 'rate' });
    } else if (m.t === 'stats') {
      process.send?.({ t: 'stats', received, latency: latencies.splice(0) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { fastUdpAvailable, sendDatagram } from '../../src/rtc/forward/UdpOut.ts';

async function bound(type: 'udp4' | 'udp6', host: string): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  s.bind(0, host);
  await once(s, 'listening');
  return s;
}

/** Collects the datagrams `rx` receives until `n` have arrived. */
function collect(rx: dgram.Socket, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    rx.on('message', (m) => {
      got.push(m);
      if (got.length === n) resolve(got);
    });
  });
}

describe('UdpOut', () => {
  for (const [type, host] of [
    ['udp4', '127.0.0.1'],
    ['udp6', '::1'],
  ] as const) {
    it(`sends through the socket's handle (${type}); a buffer reused after a synchronous send arrives as it was`, async () => {
      const tx = await bound(type, host);
      const rx = await bound(type, host);
      try {
        assert.equal(fastUdpAvailable(tx), true, 'the fast path exists in this Node');
        const port = rx.address().port;
        const all = collect(rx, 200);
        const buf = Buffer.alloc(1000);
        let sync = 0;
        for (let i = 0; i < 200; i++) {
          buf.fill(i & 0xff);
          buf.writeUInt16BE(i, 0);
          // Only a synchronous send lets us overwrite the buffer for the next one.
          if (sendDatagram(tx, buf, port, host)) sync += 1;
          else await new Promise((r) => setImmediate(r));
          // Let the receiver read before its socket buffer fills (the kernel would drop the rest).
          if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1));
        }
        assert.ok(sync > 0, 'loopback sends complete synchronously');
        const got = await all;
        const seen = new Set(got.map((m) => m.readUInt16BE(0)));
        assert.equal(seen.size, 200, 'every datagram once');
        for (const m of got) {
          const i = m.readUInt16BE(0);
          assert.equal(m.length, 1000);
          assert.equal(m[999], i & 0xff, `datagram ${i} intact`);
        }
      } finally {
        tx.close();
        rx.close();
      }
    });
  }

  it('falls back to socket.send for an address that is not an IP literal, and the datagram arrives', async () => {
    const tx = await bound('udp4', '127.0.0.1');
    const rx = await bound('udp4', '127.0.0.1');
    try {
      const got = collect(rx, 1);
      assert.equal(sendDatagram(tx, Buffer.from('hello'), rx.address().port, 'localhost'), false);
      assert.equal((await got)[0]!.toString(), 'hello');
    } finally {
      tx.close();
      rx.close();
    }
  });
});

/**
 * A loopback UDP proxy that makes DTLS handshakes slow, for tests. It stands in for every endpoint
 * it is told about: endpoint E (a real 127.0.0.1 port) is reached at twin(E), a proxy socket; a
 * datagram from X arriving at twin(E) leaves twin(X) for E. Rewriting the 127.0.0.1 host candidates
 * in both directions of a pc's signaling (`rewrite`) puts the proxy on every path of that pc, with no
 * peer-reflexive surprises: each side sees only the twins it was told about.
 *
 * STUN and RTP/RTCP pass at once; DTLS datagrams (first byte 20–63, RFC 7983) are held `delayMs`
 * and, with `duplicate`, sent twice. A delay above 0.5 s makes each handshake flight arrive after
 * the peer has already retransmitted the previous one — what a loaded server sees.
 */
import dgram from 'node:dgram';

export interface HandshakeProxyOptions {
  /** How long each DTLS datagram is held (ms). */
  delayMs: number;
  /** Send each DTLS datagram twice (the copy 10 ms after the first). */
  duplicate: boolean;
}

export class HandshakeProxy {
  /** twin socket by the real port it stands in for */
  private readonly twins = new Map<number, Promise<dgram.Socket>>();
  private readonly ready = new Map<number, dgram.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** DTLS datagrams held, by the real port they were sent to. */
  readonly dtlsTo = new Map<number, number>();
  /** Datagrams from an endpoint nobody told the proxy about (dropped). */
  unknown = 0;
  private closed = false;

  constructor(private readonly options: HandshakeProxyOptions) {}

  /** The proxy port that stands in for 127.0.0.1:`realPort`. */
  twin(realPort: number): Promise<number> {
    let s = this.twins.get(realPort);
    if (!s) {
      s = new Promise<dgram.Socket>((resolve, reject) => {
        const sock = dgram.createSocket('udp4');
        sock.once('error', reject);
        sock.on('message', (msg, from) => this.relay(msg, from.port, realPort));
        sock.bind(0, '127.0.0.1', () => {
          this.ready.set(realPort, sock);
          resolve(sock);
        });
      });
      this.twins.set(realPort, s);
    }
    return s.then((sock) => sock.address().port);
  }

  /** Replace each 127.0.0.1 host candidate in an SDP or a candidate line by its twin. */
  async rewrite(text: string): Promise<string> {
    const re = / 127\.0\.0\.1 (\d+) typ /g;
    const ports = [...text.matchAll(re)].map((m) => Number(m[1]));
    const map = new Map<number, number>();
    for (const p of ports) map.set(p, await this.twin(p));
    return text.replace(re, (_all, p: string) => ` 127.0.0.1 ${map.get(Number(p))} typ `);
  }

  /** A datagram from `fromPort` to twin(`toPort`) leaves twin(`fromPort`) for `toPort`. */
  private relay(msg: Buffer, fromPort: number, toPort: number): void {
    const out = this.ready.get(fromPort);
    if (!out || this.closed) {
      this.unknown += 1;
      return;
    }
    const first = msg[0] ?? 0;
    const send = () => {
      if (!this.closed) out.send(msg, toPort, '127.0.0.1');
    };
    if (first < 20 || first > 63) return send();
    this.dtlsTo.set(toPort, (this.dtlsTo.get(toPort) ?? 0) + 1);
    this.later(send, this.options.delayMs);
    if (this.options.duplicate) this.later(send, this.options.delayMs + 10);
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.ready.values()) s.close();
    this.ready.clear();
  }
}

/**
 * A throttling UDP relay for tests: it sits between a browser's subscribing pc and the SFU and
 * limits what flows towards the browser to `rateBps` (a token bucket with a short queue: excess
 * waits up to `maxQueueMs`, then drops), like a slow access link. The browser is told the relay's
 * address instead of the SFU's (`rewriteOffer`), and the SFU never learns the browser's own
 * candidates (`stripCandidates`): it sees the browser's checks come from the relay, as a peer-
 * reflexive candidate, and answers there.
 */
import { createSocket, type Socket } from 'node:dgram';

export class ThrottleRelay {
  private readonly front: Socket = createSocket('udp4');
  private readonly back: Socket = createSocket('udp4');
  private browser: { address: string; port: number } | null = null;
  private sfuPort = 0;
  private queue: Buffer[] = [];
  private queued = 0;
  private tokens = 0;
  private lastFill = performance.now();
  private readonly timer: NodeJS.Timeout;
  /** Bit/s towards the browser; Infinity: no limit. */
  rateBps = Infinity;
  maxQueueMs = 100;
  dropped = 0;

  private constructor() {
    this.front.on('message', (msg, rinfo) => {
      this.browser = { address: rinfo.address, port: rinfo.port };
      if (this.sfuPort) this.back.send(msg, this.sfuPort, '127.0.0.1');
    });
    this.back.on('message', (msg) => this.down(msg));
    this.timer = setInterval(() => this.drain(), 2);
  }

  static async start(): Promise<ThrottleRelay> {
    const r = new ThrottleRelay();
    await Promise.all([r.front, r.back].map((s) => new Promise<void>((ok) => s.bind(0, '127.0.0.1', () => ok()))));
    return r;
  }

  get port(): number {
    return this.front.address().port;
  }

  /** The SFU's offer with its candidates replaced by the relay's address. */
  rewriteOffer = (sdp: string): string => {
    const m = /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/.exec(sdp);
    if (m) this.sfuPort = Number(m[1]);
    let first = true;
    return sdp
      .split('\r\n')
      .flatMap((line) => {
        if (!line.startsWith('a=candidate:')) return [line];
        if (!first) return [];
        first = false;
        return [`a=candidate:1 1 udp 2130706431 127.0.0.1 ${this.port} typ host`];
      })
      .join('\r\n');
  };

  /** The browser's answer without its candidates. */
  stripCandidates = (sdp: string): string =>
    sdp
      .split('\r\n')
      .filter((l) => !l.startsWith('a=candidate:'))
      .join('\r\n');

  private down(msg: Buffer): void {
    if (this.rateBps === Infinity && this.queue.length === 0) return this.sendDown(msg);
    if (this.queued + msg.length > (this.rateBps / 8) * (this.maxQueueMs / 1000)) {
      this.dropped += 1;
      return;
    }
    this.queue.push(msg);
    this.queued += msg.length;
  }

  private drain(): void {
    const now = performance.now();
    const rate = this.rateBps === Infinity ? 1e12 : this.rateBps;
    this.tokens = Math.min(this.tokens + ((now - this.lastFill) / 1000) * (rate / 8), 1500 * 4);
    this.lastFill = now;
    while (this.queue.length > 0 && this.tokens >= this.queue[0]!.length) {
      const msg = this.queue.shift()!;
      this.tokens -= msg.length;
      this.queued -= msg.length;
      this.sendDown(msg);
    }
  }

  private sendDown(msg: Buffer): void {
    if (this.browser) this.front.send(msg, this.browser.port, this.browser.address);
  }

  close(): void {
    clearInterval(this.timer);
    this.front.close();
    this.back.close();
  }
}

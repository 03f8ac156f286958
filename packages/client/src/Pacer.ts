/**
 * Keeps a connection's outbound frames under the server's rate limit (`limits.maxFramesPerSecond`
 * in `welcome`; past it the server closes with 4008). A token bucket: frames go out at once while
 * tokens last, then wait in order. Used for WebSocket, where every command is a frame on the socket.
 */
export class Pacer<T> {
  private tokens: number;
  private last = Date.now();
  private queue: T[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly out: (item: T) => void,
  ) {
    this.tokens = burst;
  }

  push(item: T): void {
    this.queue.push(item);
    this.drain();
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Drop what waits (the connection is gone); those commands are failed by their owner. */
  clear(): void {
    this.queue = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
  }

  private drain(): void {
    if (this.timer) return;
    this.refill();
    while (this.queue.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.out(this.queue.shift() as T);
    }
    if (this.queue.length > 0) {
      const wait = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond));
      this.timer = setTimeout(() => {
        this.timer = null;
        this.drain();
      }, wait);
    }
  }
}

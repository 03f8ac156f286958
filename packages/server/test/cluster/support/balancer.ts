/**
 * A TCP front door for the cluster: each incoming connection goes to the next backend in turn; a
 * backend that refuses is skipped for that connection. It stands for the load balancer of a real
 * deployment, so SDK clients keep one URL and land on a surviving node when theirs dies. No
 * stickiness: a reconnect may go anywhere.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class Balancer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private next = 0;
  /** Connections handed to each backend port, for the test's diagnostics. */
  readonly routed = new Map<number, number>();

  private constructor(private backends: number[]) {
    this.server = createServer((client) => this.accept(client));
  }

  static async start(backends: number[]): Promise<Balancer> {
    const b = new Balancer(backends);
    await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
    return b;
  }

  get url(): string {
    const addr = this.server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  setBackends(ports: number[]): void {
    this.backends = [...ports];
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    this.dial(client, this.backends.length);
  }

  private dial(client: Socket, triesLeft: number): void {
    if (triesLeft <= 0 || this.backends.length === 0 || client.destroyed) {
      client.destroy();
      return;
    }
    const port = this.backends[this.next++ % this.backends.length]!;
    const upstream = createConnection({ port, host: '127.0.0.1' });
    this.sockets.add(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      this.routed.set(port, (this.routed.get(port) ?? 0) + 1);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', () => {
      if (!connected) this.dial(client, triesLeft - 1);
      else client.destroy();
    });
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      if (connected) client.destroy();
    });
    client.on('close', () => upstream.destroy());
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

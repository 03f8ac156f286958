/**
 * A Transport decorator that counts the log events written to the client
 * (`parley_events_out_total{transport}`), live pushes and catch-up alike. Everything else is the
 * wrapped transport's.
 */
import type { ServerFrame } from '@parley/protocol';
import type { Transport } from '../session/Transport.ts';
import type { Metrics } from './Metrics.ts';

export class CountingTransport implements Transport {
  readonly name: Transport['name'];
  readonly unidirectional: boolean;

  private readonly events: { n: number };

  constructor(
    private readonly inner: Transport,
    m: Metrics,
  ) {
    this.name = inner.name;
    this.unidirectional = inner.unidirectional;
    this.events = m.eventsOutTally(inner.name);
  }

  write(frame: ServerFrame): void {
    if (frame.t === 'ev') this.events.n += 1;
    this.inner.write(frame);
  }

  buffered(): number {
    return this.inner.buffered();
  }

  drained(): Promise<void> {
    return this.inner.drained();
  }

  close(code: number, reason: string): void {
    this.inner.close(code, reason);
  }

  onClose(handler: () => void): void {
    this.inner.onClose(handler);
  }
}

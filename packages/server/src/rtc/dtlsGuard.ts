/**
 * A runtime guard for werift's DTLS client (werift 0.25, `DtlsClient`), installed once per process
 * by `guardDtlsClient()`; nothing in node_modules is edited.
 *
 * The bug: a client answers a HelloVerifyRequest (flight 2) with its ClientHello and cookie
 * (flight 3). Its flight-1 timer retransmits the first ClientHello after 0.5 s, so when the server's
 * reply takes longer than that (a loaded server, a slow path) the server answers twice and a second
 * HelloVerifyRequest arrives: werift's Flight3 then throws (`if (this.dtls.flight === 3) throw`), the
 * DTLS transport goes to `failed` and so does the pc. A stale HelloVerifyRequest arriving later (in
 * flight 5) is worse: it restarts flight 3 and wipes the handshake in progress.
 *
 * The guard: a HelloVerifyRequest is handled only while the client is in flight 1 (the only flight
 * it answers, RFC 6347 4.2.1); later ones are dropped, as a retransmission should be. It wraps each
 * client's handshake handler in `connect()` (a prototype method, called once per client before any
 * datagram can arrive for it).
 *
 * The SFU is the DTLS server of its pcs wherever it can choose (Publisher answers setup:passive;
 * Subscriber offers actpass and clients answer active), so this matters for werift peers on the
 * other side (test and bench bots in this process or their own) and for a client that answers the
 * SFU's offer with setup:passive.
 */
import { DtlsClient } from 'werift';

/** DTLS handshake type of HelloVerifyRequest (RFC 6347 4.3.2). */
const HELLO_VERIFY_REQUEST = 3;
const installed = Symbol.for('parley.dtlsGuard');

interface Handshake {
  msg_type: number;
}
interface ClientInternals {
  dtls: { flight: number };
  onHandleHandshakes: (assembled: Handshake[]) => Promise<void>;
}

/** Repeated HelloVerifyRequests dropped by the guard in this process (for tests and diagnostics). */
export const dtlsGuardStats = { droppedHelloVerify: 0 };

/** Idempotent: patches werift's DtlsClient once per process. */
export function guardDtlsClient(): void {
  const proto = DtlsClient.prototype as unknown as Record<symbol, boolean> & { connect(this: ClientInternals): Promise<void> };
  if (proto[installed]) return;
  proto[installed] = true;
  const connect = proto.connect;
  proto.connect = function (this: ClientInternals): Promise<void> {
    const handle = this.onHandleHandshakes;
    this.onHandleHandshakes = (assembled) => {
      const kept = assembled.filter((h) => h.msg_type !== HELLO_VERIFY_REQUEST || this.dtls.flight === 1);
      if (kept.length < assembled.length) dtlsGuardStats.droppedHelloVerify += assembled.length - kept.length;
      return kept.length === 0 ? Promise.resolve() : handle(kept);
    };
    return connect.call(this);
  };
}

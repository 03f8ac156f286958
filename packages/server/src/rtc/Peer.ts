/**
 * One werift RTCPeerConnection with what both the Publisher and the Subscriber need around it:
 * the ledger entry, trickle ICE both ways, and liveness: `failed` fires when the connection fails,
 * or stays disconnected longer than `disconnectGraceMs`, or never connects within that time after
 * the first description was applied.
 */
import { ParleyError, type IceCandidateInfo } from '@parley/protocol';
import { RTCPeerConnection } from 'werift';
import { guardDtlsClient } from './dtlsGuard.ts';
import { installFastHeaderParse } from './forward/HeaderParse.ts';
import { installFastSrtpDecrypt } from './forward/SrtpDecryptor.ts';
import { SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_HMAC_SHA1_80 } from './forward/SrtpEncryptor.ts';
import type { Release } from './Ledger.ts';
import { peerConfig } from './MeetingOptions.ts';
import type { RtcContext } from './RoomTypes.ts';

guardDtlsClient();
installFastSrtpDecrypt();
installFastHeaderParse();

export class Peer {
  readonly pc: RTCPeerConnection;
  private readonly release: Release;
  private readonly subs: { unSubscribe(): void }[] = [];
  private cancelGrace: (() => void) | null = null;
  private everConnected = false;
  private _closed = false;

  constructor(
    private readonly ctx: RtcContext,
    onIce: (c: IceCandidateInfo | null) => void,
    private readonly onFailed: (reason: string) => void,
    private readonly onConnected: () => void = () => {},
  ) {
    this.pc = new RTCPeerConnection(peerConfig(ctx.options));
    this.release = ctx.ledger.open('pc');
    this.subs.push(
      this.pc.onIceCandidate.subscribe((c) => {
        if (this._closed) return;
        if (!c) return onIce(null);
        const j = c.toJSON();
        onIce({ candidate: j.candidate, sdpMid: j.sdpMid ?? null, sdpMLineIndex: j.sdpMLineIndex ?? null });
      }),
      this.pc.connectionStateChange.subscribe((state) => this.stateChanged(state)),
    );
  }

  get closed(): boolean {
    return this._closed;
  }

  get connected(): boolean {
    return this.pc.connectionState === 'connected';
  }

  private stateChanged(state: string): void {
    if (this._closed) return;
    if (state === 'connected') {
      this.everConnected = true;
      this.clearGrace();
      this.onConnected();
    } else if (state === 'failed') {
      const pc = this.pc as unknown as { iceConnectionState?: string; dtlsTransports?: { state?: string }[] };
      this.ctx.log.info({ ice: pc.iceConnectionState, dtls: pc.dtlsTransports?.map((d) => d.state), everConnected: this.everConnected }, 'peer connection failed');
      this.onFailed('peer connection failed');
    } else if (state === 'disconnected') {
      this.startGrace('peer connection lost');
    }
  }

  /**
   * Before answering an offer: every transport whose role is not settled yet becomes the DTLS server,
   * so the answer says `a=setup:passive` and the client (which offered actpass) starts the handshake.
   * The server side is the more robust one under load: it retransmits nothing before the client's
   * first flight, and a repeated client flight only makes it resend its last one. A transport already
   * running keeps its role.
   */
  takeDtlsServerRole(): void {
    for (const t of this.pc.dtlsTransports) if (t.role === 'auto' && t.state === 'new') t.role = 'server';
  }

  /**
   * Put AES_CM_128_HMAC_SHA1_80 before AEAD_AES_128_GCM in the DTLS handshakes still to come
   * (werift prefers GCM; as the DTLS server the SFU's order decides, as the client it is its
   * offer). Both directions then go through our AES-CM code: SrtpEncryptor for every forwarded
   * copy, CmDecryptor for what arrives (`node --import tsx bench/sfu/srtp.ts` and
   * `bench/sfu/decrypt.ts`: GCM needs a cipher object per packet in Node). Both profiles are
   * mandatory in WebRTC; a client that offers only GCM still gets GCM.
   */
  preferAesCm(): void {
    for (const t of this.pc.dtlsTransports as unknown as { state: string; srtpProfiles: number[] }[]) {
      if (t.state === 'new' && t.srtpProfiles[0] !== SRTP_AES128_CM_HMAC_SHA1_80) t.srtpProfiles = [SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_128_GCM];
    }
  }

  /** Called once a description is applied: the pc must connect within the grace period. */
  expectConnection(): void {
    if (!this.everConnected && !this.cancelGrace) this.startGrace('peer connection never connected');
  }

  private startGrace(reason: string): void {
    this.clearGrace();
    this.cancelGrace = this.ctx.ledger.timeout(() => {
      this.cancelGrace = null;
      if (!this._closed && !this.connected) this.onFailed(reason);
    }, this.ctx.options.disconnectGraceMs);
  }

  private clearGrace(): void {
    this.cancelGrace?.();
    this.cancelGrace = null;
  }

  async addIce(c: IceCandidateInfo | null): Promise<void> {
    if (this._closed) return;
    if (c === null || c.candidate === '') return; // end of candidates: werift needs no marker
    try {
      await this.pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined });
    } catch (err) {
      throw new ParleyError('INVALID', `bad ICE candidate: ${String((err as Error)?.message ?? err).slice(0, 120)}`);
    }
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.clearGrace();
    for (const s of this.subs.splice(0)) s.unSubscribe();
    this.release();
    void this.pc.close().catch((err: unknown) => this.ctx.log.debug({ err }, 'peer connection close failed'));
  }
}

/** Rejects what is plainly not an SDP before werift sees it; werift's own errors become INVALID too. */
export function checkSdp(sdp: string): void {
  if (!/^v=0\r?\n/.test(sdp) || !/\r?\nm=(audio|video|application) /.test(sdp)) throw new ParleyError('INVALID', 'not an SDP with media sections');
}

export function sdpError(err: unknown): ParleyError {
  if (err instanceof ParleyError) return err;
  return new ParleyError('INVALID', `SDP rejected: ${String((err as Error)?.message ?? err).slice(0, 160)}`);
}

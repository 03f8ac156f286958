/**
 * Two werift peer connections on loopback, for tests of one piece of the forwarding path
 * (DirectSender, SenderReports, CmDecryptor) without a server.
 */
import { RTCPeerConnection, useNACK, usePLI, useSdesMid, useTransportWideCC, useVP8, type RTCPeerConnectionConfig } from 'werift';
import { loopbackPeer, until } from './bot.ts';

/** Video with NACK and PLI, mid and transport-wide sequence numbers: what the SFU's pcs negotiate. */
export const videoPeer = (): RTCPeerConnectionConfig => ({
  ...loopbackPeer,
  codecs: { video: [useVP8({ rtcpFeedback: [useNACK(), usePLI()] })] },
  headerExtensions: { video: [useSdesMid(), useTransportWideCC()] },
});

/**
 * `a` offers what its transceivers say, `b` answers; ICE both ways. `beforeHandshake` runs on each
 * pc once its DTLS transports exist and before they start. Resolves once both are connected.
 * Subscribe to `b.onTrack` before: it fires while `b` applies the offer.
 */
export async function connectPair(a: RTCPeerConnection, b: RTCPeerConnection, beforeHandshake: (pc: RTCPeerConnection) => void = () => {}): Promise<void> {
  a.onIceCandidate.subscribe((c) => c && void b.addIceCandidate(c.toJSON()));
  b.onIceCandidate.subscribe((c) => c && void a.addIceCandidate(c.toJSON()));
  await a.setLocalDescription(await a.createOffer());
  beforeHandshake(a);
  await b.setRemoteDescription(a.localDescription!);
  beforeHandshake(b);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription!);
  await until(() => a.connectionState === 'connected' && b.connectionState === 'connected', 30_000, 'connected');
}

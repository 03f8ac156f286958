/**
 * RFC 6464 client-to-mixer audio levels: a one-byte RTP header extension, `V` (voice activity,
 * as the sender's VAD saw it) and a 7-bit level in −dBov (0 = loudest, 127 = silence).
 *
 * werift exposes header extensions two ways: raw on `packet.header.extensions` (`{id, payload}`,
 * the id negotiated in the SDP for `urn:ietf:params:rtp-hdrext:ssrc-audio-level`), and parsed in
 * the second argument of `MediaStreamTrack.onReceiveRtp` (an object keyed by URI whose audio level
 * value is `{v, level}`). Both are read here; the raw path costs one array scan and a byte read.
 */
import type { RtpPacket } from 'werift';

export const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

export interface AudioLevel {
  /** The sender's voice activity flag. */
  voice: boolean;
  /** 0 (loudest) … 127 (silence), in −dBov. */
  level: number;
}

/** Parse the extension's payload (one byte; longer payloads are padded). Null when empty. */
export function parseAudioLevel(payload: Uint8Array): AudioLevel | null {
  if (payload.length < 1) return null;
  const b = payload[0]!;
  return { voice: (b & 0x80) !== 0, level: b & 0x7f };
}

/** The level carried by a packet, by the negotiated extension id; null when absent. */
export function audioLevelOf(packet: Pick<RtpPacket, 'header'>, extensionId: number): AudioLevel | null {
  for (const e of packet.header.extensions) if (e.id === extensionId) return parseAudioLevel(e.payload);
  return null;
}

/** The level from werift's parsed extensions (the second argument of onReceiveRtp). */
export function audioLevelFromParsed(extensions: Record<string, unknown> | undefined): AudioLevel | null {
  const v = extensions?.[AUDIO_LEVEL_URI] as { v?: unknown; level?: unknown } | undefined;
  if (!v || typeof v.level !== 'number') return null;
  return { voice: v.v === true, level: v.level & 0x7f };
}

/** The extension id negotiated for audio levels, from a transceiver's or SDP's header extension list. */
export function audioLevelExtensionId(exts: readonly { id: number; uri: string }[]): number | null {
  return exts.find((e) => e.uri === AUDIO_LEVEL_URI)?.id ?? null;
}

/**
 * Who is speaking, from WebRTC stats: the `audioLevel` (0..1) of each inbound audio stream of the
 * subscribing pc and of the microphone's media source on the publishing pc.
 */

/**
 * The loudest voice above `floor`: the owner of a subscribing m-line (`ownerOf(mid)`, null for an
 * unknown or muted track), `me` for the microphone, or null. Pass `pub` null while muted.
 */
export async function loudest(sub: RTCPeerConnection | null, pub: RTCPeerConnection | null, ownerOf: (mid: string) => string | null, floor: number): Promise<string | null> {
  let best: string | null = null;
  let bestLevel = floor;
  const stats = await sub?.getStats().catch(() => null);
  stats?.forEach((s: { type: string; kind?: string; mid?: string; audioLevel?: number }) => {
    if (s.type !== 'inbound-rtp' || s.kind !== 'audio' || s.mid === undefined) return;
    const owner = ownerOf(s.mid);
    const level = s.audioLevel ?? 0;
    if (owner && level > bestLevel) {
      best = owner;
      bestLevel = level;
    }
  });
  const mine = await pub?.getStats().catch(() => null);
  mine?.forEach((s: { type: string; kind?: string; audioLevel?: number }) => {
    if (s.type === 'media-source' && s.kind === 'audio' && (s.audioLevel ?? 0) > bestLevel) {
      best = 'me';
      bestLevel = s.audioLevel ?? 0;
    }
  });
  return best;
}

/**
 * Reading a meeting's media from the page: the RTCPeerConnections of the live MeetingSession
 * (`window.__parleyMeeting`) through getStats, per remote user.
 */
import type { Page } from 'playwright-core';

export interface RemoteStats {
  /** inbound-rtp video framesDecoded, per source (camera, screen). */
  frames: Record<string, number>;
  /** inbound-rtp audio packetsReceived. */
  audioPackets: number;
}

export interface MeetingStats {
  /** By the remote user's handle (from the tiles). */
  users: Record<string, RemoteStats>;
  /** Selected candidate pairs of the pcs, "local -> remote" addresses. */
  pairs: string[];
  /** The session's state, and what its recovery did if anything (MeetingSession.recoveryLog). */
  state?: string;
  recovery?: string[];
}

export async function meetingStats(page: Page): Promise<MeetingStats> {
  // No named inner functions here: tsx would wrap them in a `__name` helper the page lacks.
  return page.evaluate(async () => {
    const out: MeetingStats = { users: {}, pairs: [] };
    const m = window.__parleyMeeting;
    if (!m) return out;
    out.state = m.state;
    if (m.recoveryLog.length > 0) out.recovery = [...m.recoveryLog];
    for (const pc of [m.pub, m.sub]) {
      if (!pc) continue;
      const byId = new Map<string, Record<string, unknown>>();
      (await pc.getStats()).forEach((s: Record<string, unknown>) => byId.set(s['id'] as string, s));
      for (const s of byId.values()) {
        if (s['type'] === 'transport' && typeof s['selectedCandidatePairId'] === 'string') {
          const pair = byId.get(s['selectedCandidatePairId']);
          const local = pair && byId.get(pair['localCandidateId'] as string);
          const remote = pair && byId.get(pair['remoteCandidateId'] as string);
          if (local && remote) out.pairs.push(`${String(local['address'])} -> ${String(remote['address'])}`);
        }
        if (pc !== m.sub || s['type'] !== 'inbound-rtp' || typeof s['mid'] !== 'string') continue;
        // The m-line's track (from the server's offer), its participant, and that one's tile.
        const trackId = m.mids[s['mid']];
        let owner: { participant: string; source: string } | null = null;
        for (const p of m.participants.values()) {
          const info = trackId === undefined ? undefined : p.tracks.get(trackId);
          if (info) owner = { participant: p.id, source: info.source };
        }
        if (!owner) continue;
        const tile = document.querySelector<HTMLElement>(`[data-testid="tile"][data-participant="${owner.participant}"][data-source="camera"]`);
        const handle = tile?.dataset['user'] ?? owner.participant;
        const user = (out.users[handle] ??= { frames: {}, audioPackets: 0 });
        if (s['kind'] === 'video') user.frames[owner.source] = Number(s['framesDecoded'] ?? 0);
        else user.audioPackets += Number(s['packetsReceived'] ?? 0);
      }
    }
    return out;
  });
}

/** Handles shown in the meeting's camera tiles. */
export async function tileUsers(page: Page): Promise<string[]> {
  return (await page.locator('[data-testid="tile"][data-source="camera"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset['user'] ?? ''))).sort();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What a page's meeting knows, for a failure message: its state, the last announcement, whether it
 * shares a screen, its publishing pc's transceivers (mid, direction, track) and the tracks it knows
 * per participant (source: id).
 */
export async function meetingSnapshot(page: Page): Promise<string> {
  return page.evaluate(() => {
    const m = window.__parleyMeeting;
    const said = document.getElementById('announcer')?.textContent ?? '';
    if (!m) return `no meeting; announced: "${said}"`;
    const pub = m.pub
      ? m.pub.getTransceivers().map((t) => `${t.mid ?? '-'}:${t.direction}/${t.currentDirection ?? '-'}:${t.sender.track?.readyState ?? 'none'}`).join(' ')
      : 'none';
    const known = [...m.participants.values()].map((p) => `${p.id}[${[...p.tracks.values()].map((i) => `${i.source}:${i.id}`).join(',')}]`).join(' ');
    return `state ${m.state}; announced "${said}"; screen ${m.screen ? m.screen.readyState : 'none'}; pub ${m.pub?.signalingState ?? '-'} ${pub}; knows ${known}`;
  });
}

/** Shared helpers of the SFU bench: telling RTP from other datagrams, CPU time of a process. */
import { readFileSync } from 'node:fs';

/**
 * True for an (S)RTP datagram: version 2, and a payload type outside RTCP's 200–207 range
 * (RFC 5761 demultiplexing). STUN starts with 0–3, DTLS with 20–63: both fail the version test.
 */
export function isRtp(b: Buffer | undefined): boolean {
  if (!b || b.length < 12) return false;
  const b0 = b[0]!;
  if (b0 < 128 || b0 > 191) return false;
  const pt = b[1]! & 0x7f;
  return pt < 64 || pt > 95;
}

/** User + system CPU seconds a process has used so far (from /proc/<pid>/stat, Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: field 3 is index 0, so utime (14) and stime (15) are 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The 1-minute load average, for the figures' context. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

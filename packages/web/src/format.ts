/** Dates and times as the app shows them, in the browser's locale and time zone. */

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: 'long' });
const shortDate = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const longDate = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'long', year: 'numeric' });

function startOfDay(ts: number): number {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** Whole days between the local days of `ts` and `now` (0 = same day). */
function daysAgo(ts: number, now: number): number {
  return Math.round((startOfDay(now) - startOfDay(ts)) / 86_400_000);
}

export function clock(ts: number): string {
  return time.format(ts);
}

/** A key that changes exactly when the local day changes. */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** Label of a day separator: Today, Yesterday, or the date. */
export function dayLabel(ts: number, now = Date.now()): string {
  const n = daysAgo(ts, now);
  if (n === 0) return 'Today';
  if (n === 1) return 'Yesterday';
  return longDate.format(ts);
}

/** Time shown in the conversation list: a clock today, the weekday this week, else a date. */
export function listTime(ts: number, now = Date.now()): string {
  const n = daysAgo(ts, now);
  if (n === 0) return clock(ts);
  if (n === 1) return 'Yesterday';
  if (n < 7) return weekday.format(ts);
  return shortDate.format(ts);
}

export function lastSeen(ts: number | null, now = Date.now()): string {
  if (ts === null) return 'offline';
  const n = daysAgo(ts, now);
  if (n === 0) return `last seen today at ${clock(ts)}`;
  if (n === 1) return `last seen yesterday at ${clock(ts)}`;
  return `last seen ${shortDate.format(ts)}`;
}

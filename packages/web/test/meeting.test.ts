/**
 * Meetings and calls in Chromium with fake camera and microphone, through the real SFU on loopback.
 * One file, so that its browsers never run beside each other's (the SFU is JavaScript: SRTP for
 * every forwarded packet; two meeting files at once on a small machine starve ICE consent checks).
 *
 * 1. A meeting of three: the device check, everyone decodes the other two's video and receives
 *    their audio over 127.0.0.1 pairs, the active speaker is highlighted, mute stops the forwarded
 *    audio, camera off/on by keyboard, screen shares, and a participant who closes its page leaves
 *    the others' grid and the server's ledger. Joining a room you may not join says so.
 * 2. A 1:1 call from the chat view: Alice calls, Dave's screen rings, he accepts, media both ways,
 *    Alice hangs up, both close and "Call, N s" lands in the chat. Then a declined call and a call
 *    the caller cancels ("Missed call"); nothing is left on the server.
 * 3. The server restarts under a meeting: both pages say "Reconnecting…" over their tiles and
 *    rejoin by themselves once it is back, without a click.
 * 4. A failed media connection rejoins by itself: the server ends one participation (its `closed`
 *    frame after a failed pc), then another's subscribing pc goes silent on the server (what ICE
 *    consent loss under load looks like to Chromium: 'disconnected', then 'failed'); both come back
 *    with media flowing, on the same screen, without a click.
 *
 * Cameras publish as the app does by default: 640×360 in two simulcast layers (h, f).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ParleyNode } from '../../server/src/node.ts';
import { LOOPBACK_MEETINGS, buildApp, cleanTemps, convRow, docsPath, launch, messages, register, sendText, skipBrowser, startNode, tempDir, until, type User } from './helpers.ts';
import { meetingSnapshot, meetingStats, sleep, tileUsers, type MeetingStats } from './meeting-helpers.ts';

let node: ParleyNode;
let dataDir = '';
const users: User[] = [];

before(async () => {
  if (skipBrowser) return;
  await buildApp();
  dataDir = tempDir('parley-web-meeting-');
  node = await startNode(dataDir, 0, { meetings: LOOPBACK_MEETINGS });
});

/** Close the browsers of the previous test: only one test's browsers run at a time. */
async function closeAll(): Promise<void> {
  for (const u of users.splice(0)) await u.ctx.close().catch(() => {});
}

after(async () => {
  for (const u of users) await u.ctx.close().catch(() => {});
  await node?.stop();
  cleanTemps();
});

const GROUP = 'Standup';
const VIEWPORT = { width: 960, height: 600 };

/** Wait until `f(stats)` holds on the page, returning the last stats read. */
async function untilStats(u: User, what: string, f: (s: MeetingStats) => boolean): Promise<MeetingStats> {
  let last: MeetingStats = { users: {}, pairs: [] };
  await until(`${u.handle}: ${what}`, async () => f((last = await meetingStats(u.page)))).catch((err: Error) => {
    throw new Error(`${err.message} (last: ${JSON.stringify(last)}; server: ${serverView()})`);
  });
  return last;
}

/** The SFU's side of every subscription, for a failure's message: what each DownTrack forwards and why. */
function serverView(): string {
  const rooms = node?.meetings?.rooms;
  if (!rooms) return 'no meetings';
  const now = Date.now();
  return JSON.stringify(
    rooms.list().flatMap((room) =>
      room.participants().map((p) => ({
        sub: p.id,
        bw: p.subscriber.bandwidth,
        down: p.subscriber.downTracks().map((d) => ({
          from: d.track.info.owner,
          src: d.track.info.source,
          muted: d.track.muted,
          received: d.track.received,
          started: d.isStarted,
          fwd: d.forwarded,
          tile: d.tile,
          decision: d.decision,
          layers: d.track.layers(now).map((l) => `${l.id}:${l.live ? 'live' : 'dead'}${l.paused ? ',paused' : ''},${Math.round(l.bitrate / 1000)}k`),
        })),
      })),
    ),
  );
}

/**
 * Until a counter of the page's stats (`read`) has grown by more than `by` from now. A rejoin (the
 * meeting recovers by itself from a failed pc, e.g. under heavy load) starts new pcs whose counters
 * start at 0: a drop counts as a restart, and only increases add up.
 */
async function untilGrows(u: User, what: string, read: (s: MeetingStats) => number, by: number): Promise<MeetingStats> {
  let prev = -1;
  let grown = 0;
  return untilStats(u, what, (s) => {
    const now = read(s);
    if (prev >= 0) grown += now >= prev ? now - prev : now;
    prev = now;
    return grown > by;
  });
}

const cameraFrames = (handle: string) => (s: MeetingStats) => s.users[handle]?.frames['camera'] ?? 0;
const audioPackets = (handle: string) => (s: MeetingStats) => s.users[handle]?.audioPackets ?? 0;

// A long budget: at load average 20–37 the SFU's pcs failed every 30–40 s and each page rejoined
// about every minute (docs/web.md, "Testing"); the run that passed so took 8 minutes.
test('a meeting of three: video and audio from the other two, speaker, mute, screen share, leaving', { skip: skipBrowser, timeout: 900_000 }, async (t) => {
  // Diagnostics, not assertions: how late the SFU's event loop ran (werift answers nothing while it
  // is blocked) and why pages rejoined, if they did.
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  const breaks = new Map<string, string[]>();
  t.after(async () => {
    for (const u of users) await noteBreaks(u);
    lag.disable();
    t.diagnostic(`SFU event-loop delay: p99 ${Math.round(lag.percentile(99) / 1e6)} ms, max ${Math.round(lag.max / 1e6)} ms; rejoins: ${JSON.stringify(Object.fromEntries(breaks))}`);
  });
  const noteBreaks = async (u: User) => {
    const b = (await meetingStats(u.page).catch(() => null))?.recovery;
    if (b) breaks.set(u.handle, b);
  };
  const url = node.url + '/';
  const rooms = node.meetings!.rooms;
  const [ann, bob, cat] = await Promise.all([launch('ann', VIEWPORT, { media: true }), launch('bob', VIEWPORT, { media: true }), launch('cat', VIEWPORT, { media: true })]);
  users.push(ann, bob, cat);
  for (const u of users) await register(u, url);

  await ann.page.getByTestId('new-group').click();
  await ann.page.getByTestId('new-group-name').fill(GROUP);
  await ann.page.getByTestId('new-group-members').fill('bob, cat');
  await ann.page.getByTestId('new-group-submit').click();
  await ann.page.locator('[data-testid="chat"][data-kind="group"]').waitFor();
  const conv = decodeURIComponent(/#\/c\/([^/?#]+)/.exec(ann.page.url())?.[1] ?? '');
  assert.ok(conv, 'the group is open');

  // Everyone opens the meeting link of the group: the device check first, then join.
  for (const u of users) {
    await u.page.goto(`${url}#/m/${encodeURIComponent(conv)}`);
    await u.page.getByTestId('prejoin').waitFor();
    // The camera preview plays and the microphone meter moves (the fake device beeps).
    await u.page.waitForFunction(() => {
      const v = document.querySelector<HTMLVideoElement>('[data-testid="prejoin-preview"]');
      return !!v && v.videoWidth > 0 && !v.paused;
    });
    await u.page.locator('[data-testid="mic-meter"]:not([aria-valuenow="0"])').waitFor();
    await u.page.getByTestId('meeting-join').click();
    await u.page.locator('[data-testid="meeting"][data-phase="meeting"]').waitFor();
  }

  // Each sees three tiles, with the others' names.
  for (const u of users) {
    let seen: string[] = [];
    await until(`${u.handle} sees everyone (seen: ${seen.join()})`, async () => (seen = await tileUsers(u.page)).join() === 'ann,bob,cat').catch(async (err: Error) => {
      throw new Error(`${err.message}; tiles: ${seen.join()}; meeting: ${await u.page.getByTestId('meeting').textContent()}`);
    });
  }

  // Each decodes video from the other two and receives their audio, over 127.0.0.1.
  const others = (u: User) => users.filter((x) => x !== u).map((x) => x.handle);
  const flowing = (u: User, s: MeetingStats) => others(u).every((o) => (s.users[o]?.frames['camera'] ?? 0) > 0 && (s.users[o]?.audioPackets ?? 0) > 0);
  for (const u of users) await untilStats(u, 'media from the other two', (s) => flowing(u, s));
  for (const u of users) {
    for (const o of others(u)) {
      await untilGrows(u, `${o}'s video keeps coming`, cameraFrames(o), 10);
      await untilGrows(u, `${o}'s audio keeps coming`, audioPackets(o), 20);
    }
    const later = await untilStats(u, 'both pcs have a selected pair', (st) => st.pairs.length >= 2);
    for (const p of later.pairs) assert.equal(p, '127.0.0.1 -> 127.0.0.1', `${u.handle}: loopback pair`);
  }
  let s = rooms.stats();
  // Polled: a page that is rejoining (under heavy load a pc may fail) is back in a moment.
  await until(`the server holds 3 participants, 6 pcs, 6 tracks, 12 down tracks (${JSON.stringify((s = rooms.stats()))})`, () => {
    s = rooms.stats();
    return s.participant === 3 && s.pc === 6 && s.track === 6 && s.downtrack === 12;
  });

  // The fake microphone beeps: someone gets the speaker highlight.
  await ann.page.locator('[data-testid="tile"][data-speaking="true"]').first().waitFor();
  // The SFU's dominant speaker (from the RFC 6464 levels in the beeping audio) is marked on a tile.
  await ann.page.locator('[data-testid="tile"][data-dominant="true"]').first().waitFor();
  // Each page tells the SFU the size of its tiles (rtc.layer).
  const [live] = rooms.list();
  assert.ok(live, 'the meeting has a room on the server');
  await until('every page sent its tile sizes', () => live.participants().every((p) => p.subscriber.downTracks().filter((d) => d.track.kind === 'video').every((d) => d.tileSetAt > 0)));

  await ann.page.screenshot({ path: docsPath('web-meeting.png') });

  // Ann mutes: the others see it, and her audio stops arriving at theirs.
  await ann.page.getByTestId('meeting-mic').click();
  await ann.page.locator('[data-testid="meeting-mic"][aria-pressed="true"]').waitFor();
  for (const u of [bob, cat]) {
    await u.page.locator('[data-testid="tile"][data-user="ann"][aria-label*="microphone off"]').waitFor();
    // Stopped: the count stands still over a second (polled; in-flight packets may still land).
    await until(`${u.handle}: ann's audio stopped`, async () => {
      const a = await meetingStats(u.page);
      if (!a.users['ann']) return false; // rejoining
      await sleep(1000);
      return (await meetingStats(u.page)).users['ann']?.audioPackets === a.users['ann'].audioPackets;
    });
  }
  // Bob's audio still reaches cat.
  await untilGrows(cat, "bob's audio still flows", audioPackets('bob'), 20);
  // Unmute: it flows again.
  await ann.page.getByTestId('meeting-mic').click();
  await untilGrows(bob, "ann's audio is back", audioPackets('ann'), 20);

  // Bob turns his camera off and on with the keyboard (V): the others see his avatar, then video.
  await bob.page.keyboard.press('v');
  await bob.page.locator('[data-testid="meeting-camera"][aria-pressed="true"]').waitFor();
  for (const u of [ann, cat]) await u.page.locator('[data-testid="tile"][data-user="bob"][data-video-on="false"][aria-label*="camera off"]').waitFor();
  await bob.page.keyboard.press('v');
  for (const u of [ann, cat]) await u.page.locator('[data-testid="tile"][data-user="bob"][data-video-on="true"]').waitFor();
  await untilGrows(ann, "bob's video is back", cameraFrames('bob'), 10);

  // Ann shares her screen: a second video tile for her on the others' screens, decoding.
  await ann.page.getByTestId('meeting-screen').click();
  await ann.page.locator('[data-testid="meeting-screen"][aria-pressed="true"]').waitFor();
  for (const u of [bob, cat]) {
    await u.page.locator('[data-testid="tile"][data-source="screen"]').waitFor();
    await untilStats(u, "ann's screen decodes", (st) => (st.users['ann']?.frames['screen'] ?? 0) > 0);
  }
  await until('the screen track is published', () => rooms.stats().track === 7);
  // On a phone-sized screen the grid takes two columns and the controls stay reachable.
  await bob.page.setViewportSize({ width: 390, height: 720 });
  await bob.page.getByTestId('meeting-leave').waitFor();
  await bob.page.screenshot({ path: docsPath('web-meeting-narrow.png') });
  await bob.page.setViewportSize(VIEWPORT);
  await ann.page.getByTestId('meeting-screen').click();
  for (const u of [bob, cat]) await u.page.locator('[data-testid="tile"][data-source="screen"]').waitFor({ state: 'detached' });
  await until('the screen track is unpublished', () => rooms.stats().track === 6);
  // A second share: the others' subscribing pcs put it in the m-line the first one left.
  await ann.page.locator('[data-testid="meeting-screen"][aria-pressed="false"]').waitFor();
  await ann.page.getByTestId('meeting-screen').click();
  for (const u of [bob, cat]) {
    // (Once seen in CI, not reproduced in six runs here: this tile never came. The message says
    // what each side knew.)
    await u.page.locator('[data-testid="tile"][data-source="screen"]').waitFor({ timeout: 60_000 }).catch(async (err: unknown) => {
      throw new Error(`${u.handle} shows no tile for ann's second share (${String(err)}); server ${JSON.stringify(rooms.stats())}; ann: ${await meetingSnapshot(ann.page)}; ${u.handle}: ${await meetingSnapshot(u.page)}`);
    });
    await untilGrows(u, "ann's second share decodes", (st) => st.users['ann']?.frames['screen'] ?? 0, 0);
  }
  await ann.page.getByTestId('meeting-screen').click();
  await until('the second screen track is unpublished', () => rooms.stats().track === 6);

  // Cat closes her page: she leaves the others' grid, and the server frees what she held.
  for (const u of users) await noteBreaks(u);
  await cat.ctx.close();
  users.splice(users.indexOf(cat), 1);
  for (const u of [ann, bob]) await until(`${u.handle}: cat left`, async () => (await tileUsers(u.page)).join() === 'ann,bob');
  await until('the server freed cat', () => {
    s = rooms.stats();
    // Timers left: the room's tick and each remaining publisher's transport-cc feedback.
    return s.participant === 2 && s.pc === 4 && s.track === 4 && s.downtrack === 4 && s.timer === 1 + 2;
  });
  assert.equal(node.meetings!.commands.participants, 2);

  // Ann and Bob leave: nothing is left on the server.
  for (const u of [ann, bob]) await noteBreaks(u);
  for (const u of [ann, bob]) {
    assert.equal(await u.page.getByTestId('meeting').getAttribute('data-phase'), 'meeting', `${u.handle} is still in the meeting: ${await u.page.getByTestId('meeting').textContent()}`);
    await u.page.getByTestId('meeting-leave').click();
    await u.page.getByTestId('meeting').waitFor({ state: 'detached' });
    await u.page.locator('[data-testid="chat"][data-kind="group"]').waitFor();
  }
  await until('the room is gone', () => {
    s = rooms.stats();
    return Object.values(s).every((n) => n === 0);
  });
  assert.equal(node.meetings!.commands.participants, 0);

  // A room Ann may not join: a conversation of Bob's she is not in, and one that does not exist.
  await bob.page.getByTestId('new-chat').click();
  await bob.page.getByTestId('new-chat-handle').fill('cat');
  await bob.page.getByTestId('new-chat-submit').click();
  await bob.page.locator('[data-testid="chat"][data-kind="direct"]').waitFor();
  const theirs = decodeURIComponent(/#\/c\/([^/?#]+)/.exec(bob.page.url())?.[1] ?? '');
  for (const [room, text] of [
    [theirs, /not a member/],
    ['c_nosuchconversation', /no such meeting/],
  ] as const) {
    await ann.page.goto(`${url}#/m/${encodeURIComponent(room)}`);
    await ann.page.locator('[data-testid="meeting-join"]:not([disabled])').click();
    await ann.page.getByTestId('meeting-join-error').filter({ hasText: text }).waitFor();
    assert.equal(await ann.page.getByTestId('meeting').getAttribute('data-phase'), 'prejoin', 'still on the device check, free to go back');
  }
  await ann.page.getByTestId('meeting-cancel').click();
  await ann.page.getByTestId('meeting').waitFor({ state: 'detached' });
  assert.equal(rooms.stats().room, 0, 'a refused join leaves nothing behind');
});

/** The call entries of the open chat, as shown. */
async function callEntries(u: User): Promise<string[]> {
  return messages(u.page).and(u.page.locator('[data-kind="call"]')).getByTestId('message-body').allTextContents();
}

test('a 1:1 call from the chat: ring, accept, media both ways, hang up, the call in the chat', { skip: skipBrowser, timeout: 300_000 }, async () => {
  await closeAll();
  const url = node.url + '/';
  const [alice, dave] = await Promise.all([launch('alice', VIEWPORT, { media: true }), launch('dave', VIEWPORT, { media: true })]);
  users.push(alice, dave);
  for (const u of users) await register(u, url);
  await alice.page.getByTestId('new-chat').click();
  await alice.page.getByTestId('new-chat-handle').fill('dave');
  await alice.page.getByTestId('new-chat-submit').click();
  await sendText(alice.page, 'Can I call you?');
  await convRow(dave.page, 'alice').click();
  await dave.page.locator('[data-testid="chat"][data-loaded="true"]').waitFor();

  // Alice calls from the chat header and waits in the call.
  await alice.page.getByRole('button', { name: 'Call dave' }).click();
  await alice.page.locator('[data-testid="meeting"][data-phase="meeting"]').waitFor();
  await alice.page.getByTestId('meeting-status').filter({ hasText: 'Calling…' }).waitFor();

  // Dave's screen rings; his chat header offers to join the call too.
  const ring = dave.page.getByTestId('incoming-call');
  await ring.filter({ hasText: 'alice is calling' }).waitFor();
  await dave.page.locator('[data-testid="call-button"][data-call="ringing"]').waitFor();
  await dave.page.screenshot({ path: docsPath('web-call-ringing.png') });
  await dave.page.getByTestId('call-accept').click();
  await ring.waitFor({ state: 'detached' });
  await dave.page.locator('[data-testid="meeting"][data-phase="meeting"]').waitFor();

  // Media both ways, over loopback.
  for (const [u, other] of [
    [alice, 'dave'],
    [dave, 'alice'],
  ] as const) {
    let first = 0;
    await until(`${u.handle} receives ${other}`, async () => {
      const s = (await meetingStats(u.page)).users[other];
      first = s?.frames['camera'] ?? 0;
      return first > 0 && (s?.audioPackets ?? 0) > 0;
    });
    await until(`${u.handle}: ${other}'s video keeps coming`, async () => ((await meetingStats(u.page)).users[other]?.frames['camera'] ?? 0) > first + 10);
    for (const p of (await meetingStats(u.page)).pairs) assert.equal(p, '127.0.0.1 -> 127.0.0.1');
  }
  await alice.page.getByTestId('meeting-status').filter({ hasText: '2 in the meeting' }).waitFor();

  // Alice hangs up: both calls close, and the call is in the chat on both sides.
  await alice.page.getByRole('button', { name: 'Hang up' }).click();
  for (const u of users) {
    // Once seen in CI (not reproduced): alice's meeting stayed after Hang up. Say what the page had.
    await u.page
      .getByTestId('meeting')
      .waitFor({ state: 'detached' })
      .catch(async (err: unknown) => {
        const state = await u.page.evaluate(() => ({
          hash: location.hash,
          meetings: Array.from(document.querySelectorAll('[data-testid="meeting"]')).map((m) => ({ ...(m as HTMLElement).dataset, label: m.getAttribute('aria-label') })),
          session: (window as { __parleyMeeting?: { state?: string } }).__parleyMeeting?.state ?? null,
        }));
        console.error(`[${u.handle}] meeting still open after Hang up:`, JSON.stringify(state));
        throw err;
      });
    await messages(u.page).and(u.page.locator('[data-kind="call"]')).getByTestId('message-body').filter({ hasText: /^Call, \d+ (s|min)$/ }).waitFor();
  }
  await convRow(dave.page, 'alice').getByTestId('conv-last').filter({ hasText: /Call, / }).waitFor();

  // Dave declines the next call: Alice's call closes, "Call declined" on both sides.
  await alice.page.getByRole('button', { name: 'Call dave' }).click();
  await dave.page.getByTestId('call-decline').click();
  await alice.page.getByTestId('meeting').waitFor({ state: 'detached' });
  for (const u of users) await until(`${u.handle} sees the declined call`, async () => (await callEntries(u)).includes('Call declined'));

  // Alice cancels the third before Dave answers: his screen stops ringing, "Missed call".
  await alice.page.getByRole('button', { name: 'Call dave' }).click();
  await ring.waitFor();
  await alice.page.getByRole('button', { name: 'Hang up' }).click();
  await ring.waitFor({ state: 'detached' });
  for (const u of users) await until(`${u.handle} sees the missed call`, async () => (await callEntries(u)).at(-1) === 'Missed call');
  await dave.page.screenshot({ path: docsPath('web-call-entries.png') });

  await until('the server holds nothing', () => Object.values(node.meetings!.rooms.stats()).every((n) => n === 0));
  assert.deepEqual(node.meetings!.calls.stats(), { calls: 0, timers: 0 });
});

/** Joins the open conversation's meeting straight from the device check. */
async function joinMeeting(u: User, url: string, conv: string): Promise<void> {
  await u.page.goto(`${url}#/m/${encodeURIComponent(conv)}`);
  await u.page.locator('[data-testid="meeting-join"]:not([disabled])').click();
  await u.page.locator('[data-testid="meeting"][data-phase="meeting"]').waitFor();
}

/** Until `u` decodes more and more of `other`'s camera. */
async function receiving(u: User, other: string): Promise<void> {
  let first = -1;
  await until(`${u.handle} decodes ${other}`, async () => {
    const f = (await meetingStats(u.page)).users[other]?.frames['camera'] ?? 0;
    if (first < 0 && f > 0) first = f;
    return first > 0 && f > first + 5;
  });
}

/**
 * From now on, record every value the meeting screen's phase and connection state take (a
 * MutationObserver sees each change, also one that lasts a moment), and which MeetingSession is live.
 */
async function watchMeeting(u: User): Promise<void> {
  await u.page.evaluate(() => {
    const el = document.querySelector<HTMLElement>('[data-testid="meeting"]');
    const w = window as unknown as { __seen: string[]; __session: unknown };
    w.__seen = [];
    w.__session = window.__parleyMeeting;
    if (!el) return;
    new MutationObserver((records) => {
      for (const r of records) w.__seen.push(`${r.attributeName}=${el.getAttribute(r.attributeName ?? '')}`);
    }).observe(el, { attributes: true, attributeFilter: ['data-phase', 'data-connection'] });
  });
}

/** What `watchMeeting` saw: the values taken, whether the session is still the same object, its rejoins. */
async function watched(u: User): Promise<{ seen: string[]; same: boolean; rejoins: number }> {
  return u.page.evaluate(() => {
    const w = window as unknown as { __seen: string[]; __session: unknown };
    return { seen: w.__seen, same: w.__session === window.__parleyMeeting, rejoins: window.__parleyMeeting?.rejoins ?? -1 };
  });
}

test('the server restarts under a meeting: both say "Reconnecting…" and rejoin by themselves', { skip: skipBrowser, timeout: 300_000 }, async () => {
  const [alice, dave] = users as [User, User];
  const url = node.url + '/';
  const conv = decodeURIComponent(/#\/c\/([^/?#]+)/.exec(alice.page.url())?.[1] ?? '');
  for (const u of users) await joinMeeting(u, url, conv);
  await receiving(alice, 'dave');
  await receiving(dave, 'alice');
  for (const u of users) await watchMeeting(u);

  const port = node.port;
  await node.stop();
  for (const u of users) {
    await u.page.locator('[data-testid="meeting"][data-connection="reconnecting"]').waitFor();
    await u.page.getByTestId('meeting-reconnecting').waitFor();
  }
  node = await startNode(dataDir, port, { meetings: LOOPBACK_MEETINGS });
  // No click: each page rejoins once its link is back.
  for (const u of users) await u.page.locator('[data-testid="meeting"][data-connection="ok"]').waitFor();
  await receiving(alice, 'dave');
  await receiving(dave, 'alice');
  for (const u of users) {
    const w = await watched(u);
    assert.ok(w.same, `${u.handle}: the same meeting screen and session`);
    assert.ok(w.rejoins >= 1, `${u.handle} rejoined`);
    assert.ok(!w.seen.some((v) => v.startsWith('data-phase')), `${u.handle}: the screen stayed in the meeting (${w.seen.join()})`);
    assert.ok(w.seen.includes('data-connection=reconnecting'), `${u.handle} said it was reconnecting`);
  }
  assert.equal(await dave.page.getByTestId('meeting-reconnecting').isHidden(), true);
  await until('the server holds both participants', () => node.meetings!.rooms.stats().participant === 2);
});

test('a failed media connection rejoins by itself, with media flowing again', { skip: skipBrowser, timeout: 300_000 }, async () => {
  const [alice, dave] = users as [User, User];
  const rooms = node.meetings!.rooms;
  const participantOf = async (u: User) => {
    const id = await u.page.evaluate(() => window.__parleyMeeting?.participantId ?? null);
    const p = rooms.list()[0]?.participants().find((x) => x.id === id);
    assert.ok(p, `${u.handle} has a participant on the server`);
    return p;
  };
  for (const u of users) await watchMeeting(u);

  // 1. The server ends Alice's participation as it does when its side of her pc fails.
  (await participantOf(alice)).close('peer connection failed');
  await until('alice rejoined', async () => (await watched(alice)).rejoins === 1);
  await receiving(alice, 'dave');
  await receiving(dave, 'alice');

  // 2. Dave's subscribing pc goes silent on the server (its werift pc closed, the participant kept):
  //    Chromium sees ICE consent fail, and Dave's page rejoins by itself.
  const daveBefore = await participantOf(dave);
  await daveBefore.subscriber.peer.pc.close();
  await until('dave rejoined', async () => (await watched(dave)).rejoins === 1);
  await receiving(dave, 'alice');
  await receiving(alice, 'dave');
  assert.ok(daveBefore.closed, "the server closed dave's old participant (the rejoin replaced it)");

  for (const u of users) {
    const w = await watched(u);
    assert.ok(w.same, `${u.handle}: the same meeting screen and session`);
    assert.ok(!w.seen.some((v) => v.startsWith('data-phase')), `${u.handle}: the screen stayed in the meeting (${w.seen.join()})`);
    assert.equal(await u.page.getByTestId('meeting').getAttribute('data-connection'), 'ok');
  }
  for (const u of [alice, dave]) assert.ok((await watched(u)).seen.includes('data-connection=reconnecting'), `${u.handle} said it was reconnecting`);
  const s = rooms.stats();
  assert.equal(s.participant, 2);
  assert.equal(s.pc, 4);
  for (const u of users) await u.page.getByTestId('meeting-leave').click();
  await until('the server holds nothing', () => Object.values(node.meetings!.rooms.stats()).every((n) => n === 0));
});

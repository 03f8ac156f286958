/**
 * The server restarts while a user types and sends: the offline banner appears, the message shows
 * as pending, and after the automatic reconnect it is delivered exactly once; nothing duplicates,
 * also not after a reload (which shows the server's history).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ParleyNode } from '../../server/src/node.ts';
import { buildApp, cleanTemps, convRow, docsPath, LONG, launch, messages, messagesWith, register, sendText, skipBrowser, startNode, tempDir, type User } from './helpers.ts';

let node: ParleyNode;
let dataDir: string;
const users: User[] = [];

before(async () => {
  if (skipBrowser) return;
  await buildApp();
  dataDir = tempDir('parley-web-restart-');
  node = await startNode(dataDir);
});

after(async () => {
  for (const u of users) await u.ctx.close().catch(() => {});
  await node?.stop();
  cleanTemps();
});

test('server restart: banner, pending, delivered once after reconnect', { skip: skipBrowser, timeout: 300_000 }, async () => {
  const port = node.port;
  const url = node.url + '/';
  const [alice, bob] = await Promise.all([launch('alice'), launch('bob')]);
  users.push(alice, bob);
  await register(bob, url);
  await register(alice, url);
  await alice.page.getByTestId('new-chat').click();
  await alice.page.getByTestId('new-chat-handle').fill('bob');
  await alice.page.getByTestId('new-chat-submit').click();
  await sendText(alice.page, 'before the restart');
  await convRow(bob.page, 'alice').click();
  await messagesWith(bob.page, 'before the restart').waitFor();
  await messagesWith(alice.page, 'before the restart').and(alice.page.locator('[data-state="read"]')).waitFor();
  await alice.page.getByTestId('offline-banner').waitFor({ state: 'hidden' });

  // Alice is typing when the node goes away.
  await alice.page.getByTestId('composer').pressSequentially('sent while the server', { delay: 20 });
  await node.stop();
  await alice.page.getByTestId('offline-banner').waitFor({ state: 'visible' });
  await bob.page.getByTestId('offline-banner').waitFor({ state: 'visible' });
  await alice.page.getByTestId('composer').pressSequentially(' was down', { delay: 20 });
  await alice.page.getByTestId('composer').press('Enter');
  const offline = messagesWith(alice.page, 'sent while the server was down');
  await offline.and(alice.page.locator('[data-state="pending"]')).waitFor();
  await alice.page.getByTestId('offline-banner').filter({ hasText: '1 message will be sent' }).waitFor();
  await alice.page.screenshot({ path: docsPath('web-offline.png') });

  // A new node on the same port and data: both reconnect by themselves, the message goes out once.
  node = await startNode(dataDir, port);
  await alice.page.getByTestId('offline-banner').waitFor({ state: 'hidden', timeout: LONG });
  await bob.page.getByTestId('offline-banner').waitFor({ state: 'hidden', timeout: LONG });
  await offline.and(alice.page.locator('[data-state="read"]')).waitFor();
  await messagesWith(bob.page, 'sent while the server was down').waitFor();

  // A later message proves the stream moved past it; still exactly one copy on both sides.
  await sendText(bob.page, 'got it');
  await messagesWith(alice.page, 'got it').waitFor();
  const expected = ['before the restart', 'sent while the server was down', 'got it'];
  assert.deepEqual(await messages(alice.page).getByTestId('message-body').allTextContents(), expected);
  assert.deepEqual(await messages(bob.page).getByTestId('message-body').allTextContents(), expected);

  // And the server stored it once: a reload shows the stored history.
  await alice.page.reload();
  await messagesWith(alice.page, 'got it').waitFor();
  assert.deepEqual(await messages(alice.page).getByTestId('message-body').allTextContents(), expected);
  assert.equal(await alice.page.locator('[data-state="pending"]').count(), 0);
});

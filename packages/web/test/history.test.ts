/**
 * Older history loads on scroll, in order and without duplicates; on a narrow screen one pane shows
 * at a time; the app is usable from the keyboard alone.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, type Tokens } from '@parley/client';
import type { ParleyNode } from '../../server/src/node.ts';
import { buildApp, cleanTemps, convRow, launch, messages, register, skipBrowser, startNode, tempDir, until, type User } from './helpers.ts';

let node: ParleyNode;
const users: User[] = [];
const TOTAL = 130;

before(async () => {
  if (skipBrowser) return;
  await buildApp();
  node = await startNode(tempDir('parley-web-history-'));
});

after(async () => {
  for (const u of users) await u.ctx.close().catch(() => {});
  await node?.stop();
  cleanTemps();
});

test('older history on scroll; narrow screen; keyboard only', { skip: skipBrowser, timeout: 240_000 }, async () => {
  const url = node.url + '/';
  const alice = await launch('alice', { width: 390, height: 740 });
  users.push(alice);
  await register(alice, url);

  // Bob writes many messages from the SDK in Node.
  const res = await fetch(`${node.url}/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ handle: 'bob', password: 'correct horse' }) });
  const tokens = (await res.json()) as Tokens;
  const bob = connect({ url: node.url, token: tokens.access });
  try {
    const conv = await bob.direct('alice');
    const sends: Promise<unknown>[] = [];
    for (let i = 1; i <= TOTAL; i++) sends.push(bob.send(conv.id, `message number ${i}`));
    await Promise.all(sends);
  } finally {
    await bob.close();
  }

  // Narrow: the list only; the unread count is the server's.
  const page = alice.page;
  const row = convRow(page, 'bob');
  await row.getByTestId('unread-badge').filter({ hasText: String(TOTAL) }).waitFor();
  assert.equal(await page.getByTestId('no-chat').isVisible(), false, 'no chat pane beside the list on a narrow screen');

  // Keyboard only: focus the row, Enter opens the chat (and the list pane goes away).
  await row.focus();
  await page.keyboard.press('Enter');
  await page.locator('[data-testid="chat"][data-loaded="true"]').waitFor();
  assert.equal(await row.isVisible(), false);
  await messages(page).filter({ hasText: `message number ${TOTAL}` }).waitFor();
  assert.ok((await messages(page).count()) < TOTAL, 'only the newest page at first');

  // Scrolling to the top loads older pages until the beginning.
  await until('the whole history is loaded', async () => {
    await page.getByTestId('messages').evaluate((el) => el.scrollTo(0, 0));
    return (await page.getByTestId('history-status').textContent()) === 'Beginning of the conversation';
  });
  const bodies = await messages(page).getByTestId('message-body').allTextContents();
  assert.deepEqual(
    bodies,
    Array.from({ length: TOTAL }, (_, i) => `message number ${i + 1}`),
  );

  // The composer has the focus; Escape goes back to the list, where the chat is read now.
  await page.getByTestId('composer').press('Escape');
  await row.waitFor({ state: 'visible' });
  await row.getByTestId('unread-badge').waitFor({ state: 'detached' });
});

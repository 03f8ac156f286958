/**
 * Two users in two browsers: register, start a chat, exchange messages. The sender's tick goes
 * sent -> delivered -> read as the other comes online and opens the chat; typing shows and goes;
 * presence shows online, then "last seen" once the other closes its page. Also: the session
 * survives a reload, and the screenshots of docs/web.md are taken here.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ParleyNode } from '../../server/src/node.ts';
import { buildApp, cleanTemps, convRow, docsPath, launch, messages, messagesWith, register, sendText, skipBrowser, startNode, tempDir, type User } from './helpers.ts';

let node: ParleyNode;
const users: User[] = [];

before(async () => {
  if (skipBrowser) return;
  await buildApp();
  node = await startNode(tempDir('parley-web-direct-'));
});

after(async () => {
  for (const u of users) await u.ctx.close().catch(() => {});
  await node?.stop();
  cleanTemps();
});

test('two users: ticks, typing, presence, unread, reload', { skip: skipBrowser, timeout: 240_000 }, async () => {
  const url = node.url + '/';
  const alice = await launch('alice');
  const bob = await launch('bob');
  users.push(alice, bob);
  await register(bob, url);
  await register(alice, url);

  // Bob goes away before Alice writes: her message can only be "sent".
  await bob.page.goto('about:blank');

  await alice.page.getByTestId('new-chat').click();
  await alice.page.getByTestId('new-chat-handle').fill('bob');
  await alice.page.getByTestId('new-chat-submit').click();
  await alice.page.locator('[data-testid="chat"] [data-testid="chat-name"]', { hasText: 'bob' }).waitFor();
  await sendText(alice.page, 'Hello Bob!');
  const first = messagesWith(alice.page, 'Hello Bob!');
  await first.and(alice.page.locator('[data-state="sent"]')).waitFor();
  assert.equal(await first.getByTestId('tick').getAttribute('data-tick'), 'sent');

  // Bob comes back: his device receives (and acks) the message -> two ticks; it is unread for him.
  await bob.page.goto(url);
  const row = convRow(bob.page, 'alice');
  await row.getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
  await row.getByTestId('conv-last').filter({ hasText: 'Hello Bob!' }).waitFor();
  await first.and(alice.page.locator('[data-state="delivered"]')).waitFor();

  // He opens the chat: read -> two coloured ticks.
  await row.click();
  await messagesWith(bob.page, 'Hello Bob!').waitFor();
  await first.and(alice.page.locator('[data-state="read"]')).waitFor();
  await row.getByTestId('unread-badge').waitFor({ state: 'detached' });

  // Alice sees Bob online in the header and in her list.
  await alice.page.getByTestId('chat-status').filter({ hasText: /^online$/ }).waitFor();
  await convRow(alice.page, 'bob').locator('[data-testid="presence-dot"][data-online="true"]').waitFor();

  // Bob replies with Enter; both see both messages, in order, with a day separator.
  await sendText(bob.page, 'Hi Alice, how are you?');
  await messagesWith(alice.page, 'Hi Alice, how are you?').waitFor();
  assert.deepEqual(await messages(alice.page).getByTestId('message-body').allTextContents(), ['Hello Bob!', 'Hi Alice, how are you?']);
  assert.equal(await alice.page.locator('[data-testid="chat"] [data-testid="day-separator"]').first().textContent(), 'Today');
  await messagesWith(bob.page, 'Hi Alice, how are you?').and(bob.page.locator('[data-state="read"]')).waitFor();

  // Typing shows while Bob types and goes when he clears the box.
  await bob.page.getByTestId('composer').pressSequentially('I am fine', { delay: 30 });
  await alice.page.getByTestId('chat-typing').filter({ hasText: 'typing…' }).waitFor();
  await convRow(alice.page, 'bob').getByTestId('conv-typing').waitFor();
  await bob.page.getByTestId('composer').fill('');
  await bob.page.getByTestId('composer').dispatchEvent('input');
  await alice.page.getByTestId('chat-typing').waitFor({ state: 'hidden' });
  await alice.page.getByTestId('chat-status').filter({ hasText: /^online$/ }).waitFor();

  // A few more lines for the screenshots, and a second conversation with an unread message.
  await sendText(alice.page, 'Great. Dinner on Friday?');
  await messagesWith(bob.page, 'Great. Dinner on Friday?').waitFor();
  await sendText(bob.page, 'Yes! 8 pm at the usual place');
  await messagesWith(alice.page, 'Yes! 8 pm at the usual place').waitFor();
  await sendText(alice.page, 'Perfect, see you there');
  await messagesWith(alice.page, 'Perfect, see you there').and(alice.page.locator('[data-state="read"]')).waitFor();

  const carol = await launch('carol');
  users.push(carol);
  await register(carol, url);
  await carol.page.getByTestId('new-chat').click();
  await carol.page.getByTestId('new-chat-handle').fill('alice');
  await carol.page.getByTestId('new-chat-submit').click();
  await sendText(carol.page, 'Are you coming to the meetup tomorrow?');
  await convRow(alice.page, 'carol').getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
  // The list is sorted by activity: carol's newer message puts her first.
  assert.deepEqual(await alice.page.getByTestId('conv-name').allTextContents(), ['carol', 'bob']);
  await messagesWith(alice.page, 'Perfect, see you there').waitFor();
  await alice.page.screenshot({ path: docsPath('web-chat.png') });
  await alice.page.setViewportSize({ width: 390, height: 720 });
  await alice.page.getByTestId('back').click();
  await alice.page.getByTestId('conv-list').waitFor();
  await alice.page.screenshot({ path: docsPath('web-chat-list-narrow.png') });
  await alice.page.setViewportSize({ width: 1100, height: 720 });
  await alice.page.screenshot({ path: docsPath('web-chat-list.png') });

  // The session survives a reload, and so does the history.
  await alice.page.reload();
  await alice.page.getByTestId('me').filter({ hasText: 'alice' }).waitFor();
  await convRow(alice.page, 'bob').click();
  await messagesWith(alice.page, 'Hello Bob!').waitFor();
  assert.equal(await messages(alice.page).count(), 5);
  await alice.page.getByTestId('chat-status').filter({ hasText: /^online$/ }).waitFor();

  // Bob closes his browser: Alice sees "last seen".
  await bob.ctx.close();
  users.splice(users.indexOf(bob), 1);
  await alice.page.getByTestId('chat-status').filter({ hasText: /^last seen / }).waitFor();
  await convRow(alice.page, 'bob').locator('[data-testid="presence-dot"][data-online="false"]').waitFor();
});

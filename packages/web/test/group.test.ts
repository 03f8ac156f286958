/**
 * A group of three in three browsers: every member sees every message in the same order; the
 * message info of the sender shows who read it; group info manages members (remove, add, admin,
 * leave) and every member's screen follows.
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
  node = await startNode(tempDir('parley-web-group-'));
});

after(async () => {
  for (const u of users) await u.ctx.close().catch(() => {});
  await node?.stop();
  cleanTemps();
});

const GROUP = 'Weekend trip';

test('a group of three: messages, message info, members', { skip: skipBrowser, timeout: 240_000 }, async () => {
  const url = node.url + '/';
  const [alice, bob, carol] = await Promise.all([launch('alice'), launch('bob'), launch('carol')]);
  users.push(alice, bob, carol);
  for (const u of users) await register(u, url);

  await alice.page.getByTestId('new-group').click();
  await alice.page.getByTestId('new-group-name').fill(GROUP);
  await alice.page.getByTestId('new-group-members').fill('bob, carol');
  await alice.page.getByTestId('new-group-submit').click();
  await alice.page.locator('[data-testid="chat"][data-kind="group"] [data-testid="chat-name"]', { hasText: GROUP }).waitFor();

  // The group appears in the others' lists by itself; they open it.
  for (const u of [bob, carol]) {
    await convRow(u.page, GROUP).click();
    await u.page.locator('[data-testid="chat"][data-loaded="true"]').waitFor();
  }

  await sendText(alice.page, 'Who brings the tent?');
  await messagesWith(bob.page, 'Who brings the tent?').waitFor();
  await sendText(bob.page, 'I will bring the tent');
  await messagesWith(carol.page, 'I will bring the tent').waitFor();
  await sendText(carol.page, 'And I bring the food');
  const all = ['Who brings the tent?', 'I will bring the tent', 'And I bring the food'];
  for (const u of users) {
    await messagesWith(u.page, 'And I bring the food').waitFor();
    assert.deepEqual(await messages(u.page).getByTestId('message-body').allTextContents(), all, `${u.handle} sees every message in order`);
  }
  // Authors are named on others' messages in a group.
  assert.equal(await messagesWith(alice.page, 'I will bring the tent').getByTestId('message-author').textContent(), 'bob');

  // Both others have the group open: Alice's first message reaches "read", and its info says who read it.
  const mine = messagesWith(alice.page, 'Who brings the tent?');
  await mine.and(alice.page.locator('[data-state="read"]')).waitFor();
  await mine.getByTestId('message-info-button').click();
  const info = alice.page.getByTestId('message-info');
  await info.getByTestId('info-read').waitFor();
  await info.getByTestId('info-read').getByTestId('info-member').filter({ hasText: 'carol' }).waitFor();
  assert.deepEqual((await info.getByTestId('info-read').getByTestId('info-member').allTextContents()).sort(), ['bob', 'carol']);
  await info.getByTestId('info-waiting-none').waitFor();

  // Carol goes to the list; a new message is delivered to her but not read: the info says so.
  await carol.page.getByTestId('back').click();
  await carol.page.getByTestId('no-chat').waitFor();
  await info.getByTestId('dialog-close').click();
  await sendText(alice.page, 'Leaving at 9 sharp');
  const second = messagesWith(alice.page, 'Leaving at 9 sharp');
  await second.and(alice.page.locator('[data-state="delivered"]')).waitFor();
  await convRow(carol.page, GROUP).getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
  await second.getByTestId('message-info-button').click();
  await info.getByTestId('info-read').getByTestId('info-member').filter({ hasText: 'bob' }).waitFor();
  await info.getByTestId('info-delivered').getByTestId('info-member').filter({ hasText: 'carol' }).waitFor();
  await alice.page.screenshot({ path: docsPath('web-message-info.png') });
  await alice.page.keyboard.press('Escape');
  await info.waitFor({ state: 'detached' });

  // Group info: three members, Alice the admin. She removes Carol: the group leaves Carol's list.
  await alice.page.getByTestId('group-info-button').click();
  const gi = alice.page.getByTestId('group-info');
  await gi.getByTestId('member').nth(2).waitFor();
  assert.equal(await gi.getByTestId('member').count(), 3);
  assert.equal(await gi.locator('[data-testid="member"][data-handle="alice"]').getAttribute('data-admin'), 'true');
  await gi.locator('[data-testid="member"][data-handle="carol"]').getByTestId('remove-member').click();
  await gi.locator('[data-testid="member"][data-handle="carol"]').waitFor({ state: 'detached' });
  await convRow(carol.page, GROUP).waitFor({ state: 'detached' });

  // ...adds her back (she sees the group again), and makes Bob an admin.
  await gi.getByTestId('add-member-input').fill('carol');
  await gi.getByTestId('add-member-submit').click();
  await gi.locator('[data-testid="member"][data-handle="carol"]').waitFor();
  await convRow(carol.page, GROUP).waitFor();
  await gi.locator('[data-testid="member"][data-handle="bob"]').getByTestId('toggle-admin').click();
  await gi.locator('[data-testid="member"][data-handle="bob"][data-admin="true"]').waitFor();
  await alice.page.keyboard.press('Escape');

  // Bob's screen follows: he is an admin now. He leaves; the others see two members.
  await bob.page.getByTestId('group-info-button').click();
  const bgi = bob.page.getByTestId('group-info');
  await bgi.locator('[data-testid="member"][data-handle="bob"][data-admin="true"]').waitFor();
  await bgi.getByTestId('leave-group').click();
  await bgi.getByTestId('leave-group').filter({ hasText: 'Press again' }).click();
  await convRow(bob.page, GROUP).waitFor({ state: 'detached' });
  await bob.page.getByTestId('no-chat').waitFor();
  await alice.page.getByTestId('group-info-button').click();
  await gi.getByTestId('member').nth(1).waitFor();
  await gi.locator('[data-testid="member"][data-handle="bob"]').waitFor({ state: 'detached' });
  assert.equal(await gi.getByTestId('member').count(), 2);
  await alice.page.screenshot({ path: docsPath('web-group-info.png') });
});

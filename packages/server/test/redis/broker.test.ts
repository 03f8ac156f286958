import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisBroker, type RedisBrokerOptions } from '../../src/broker/RedisBroker.ts';
import { Topics, type Notice } from '../../src/broker/Broker.ts';
import { adminClient, redisSkip, REDIS_URL, uniquePrefix, user, waitFor } from './support.ts';

const skip = await redisSkip();

const presence = (id: string, online: boolean): Notice => ({
  type: 'presence',
  user: user(id),
  online,
  lastSeen: online ? null : 1,
});

describe('RedisBroker', { skip }, () => {
  let prefix: string;
  let admin: Redis;
  let errors: { err: unknown; context: string }[];
  const brokers: RedisBroker[] = [];

  const broker = (extra: RedisBrokerOptions = {}): RedisBroker => {
    const b = new RedisBroker({
      redis: REDIS_URL,
      prefix,
      onError: (err, context) => errors.push({ err, context }),
      ...extra,
    });
    brokers.push(b);
    return b;
  };
  const numsub = async (topic: string): Promise<number> => {
    const reply = (await admin.pubsub('NUMSUB', prefix + topic)) as [string, number];
    return Number(reply[1]);
  };

  beforeEach(() => {
    prefix = uniquePrefix();
    admin = adminClient();
    errors = [];
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.close()));
    await admin.quit();
  });

  test('two nodes exchange notices on their node topics, in publish order', async () => {
    const a = broker();
    const b = broker();
    const gotA: Notice[] = [];
    const gotB: Notice[] = [];
    await a.subscribe(Topics.node('a'), (n) => gotA.push(n));
    await b.subscribe(Topics.node('b'), (n) => gotB.push(n));

    const sent = Array.from({ length: 20 }, (_, i) => presence(`u${i}`, i % 2 === 0));
    for (const n of sent) await a.publish(Topics.node('b'), n);
    await b.publish(Topics.node('a'), presence('x', true));

    await waitFor(() => gotB.length === 20 && gotA.length === 1, 3000, 'notices');
    assert.deepEqual(gotB, sent);
    assert.deepEqual(gotA, [presence('x', true)]);
    assert.deepEqual(errors, []);
  });

  test('presence topics reach every node that watches the user', async () => {
    const a = broker();
    const b = broker();
    const seen: string[] = [];
    await a.subscribe(Topics.presence(user('alice')), () => seen.push('a'));
    await b.subscribe(Topics.presence(user('alice')), () => seen.push('b'));
    await b.subscribe(Topics.presence(user('bob')), () => seen.push('b-bob'));

    await a.publish(Topics.presence(user('alice')), presence('alice', false));
    await waitFor(() => seen.length === 2, 3000, 'both nodes');
    assert.deepEqual([...seen].sort(), ['a', 'b']);
  });

  test('handlers of one topic share one SUBSCRIBE, which goes with the last handler', async () => {
    const a = broker();
    const pub = broker();
    const topic = Topics.node('shared');
    const got = { h1: 0, h2: 0, h3: 0 };
    const off1 = await a.subscribe(topic, () => got.h1++);
    const off2 = await a.subscribe(topic, () => got.h2++);
    assert.equal(await numsub(topic), 1);

    await pub.publish(topic, presence('u', true));
    await waitFor(() => got.h1 === 1 && got.h2 === 1, 3000, 'both handlers');

    await off1();
    await off1(); // idempotent: must not remove the other handler
    assert.equal(await numsub(topic), 1);
    await pub.publish(topic, presence('u', false));
    await waitFor(() => got.h2 === 2, 3000, 'remaining handler');
    assert.equal(got.h1, 1, 'removed handler is not called');

    await off2();
    assert.equal(await numsub(topic), 0);

    // Subscribe again right after the last unsubscribe, without waiting: commands keep their order.
    const off3 = a.subscribe(topic, () => got.h3++);
    const off4 = await a.subscribe(topic, () => got.h3++);
    await (await off3)();
    await off4();
    const off5 = await a.subscribe(topic, () => got.h3++);
    assert.equal(await numsub(topic), 1);
    await pub.publish(topic, presence('u', true));
    await waitFor(() => got.h3 === 1, 3000, 'resubscribed handler');
    await off5();
    assert.equal(await numsub(topic), 0);
  });

  test('the same function subscribed twice is called twice and removed once per unsubscribe', async () => {
    const a = broker();
    let calls = 0;
    const handler = (): void => {
      calls++;
    };
    const topic = Topics.node('twice');
    const off1 = await a.subscribe(topic, handler);
    await a.subscribe(topic, handler);
    await a.publish(topic, presence('u', true));
    await waitFor(() => calls === 2, 3000, 'two calls');
    await off1();
    await a.publish(topic, presence('u', true));
    await waitFor(() => calls === 3, 3000, 'one more call');
  });

  test('a handler that throws is reported and does not stop the others', async () => {
    const a = broker();
    const topic = Topics.node('throwing');
    const got: string[] = [];
    await a.subscribe(topic, () => got.push('first'));
    await a.subscribe(topic, () => {
      throw new Error('boom');
    });
    await a.subscribe(topic, () => got.push('third'));

    await a.publish(topic, presence('u', true));
    await a.publish(topic, presence('u', false));
    await waitFor(() => got.length === 4, 3000, 'other handlers');
    assert.deepEqual(got, ['first', 'third', 'first', 'third']);
    assert.equal(errors.length, 2);
    assert.equal((errors[0]?.err as Error).message, 'boom');
  });

  test('an undecodable message is reported, not delivered', async () => {
    const a = broker();
    const topic = Topics.node('garbage');
    const got: Notice[] = [];
    await a.subscribe(topic, (n) => got.push(n));
    await admin.publish(prefix + topic, 'not json{');
    await a.publish(topic, presence('u', true));
    await waitFor(() => got.length === 1, 3000, 'valid notice');
    assert.deepEqual(got, [presence('u', true)]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.context ?? '', /undecodable/);
  });

  test('publish without subscribers resolves; prefixes isolate brokers', async () => {
    const a = broker();
    const other = broker({ prefix: uniquePrefix() });
    const got: Notice[] = [];
    await other.subscribe(Topics.node('n'), (n) => got.push(n));
    await a.publish(Topics.node('n'), presence('u', true));
    await a.publish(Topics.node('nobody'), presence('u', true));
    await other.publish(Topics.node('n'), presence('v', true));
    await waitFor(() => got.length === 1, 3000, 'own notice');
    assert.deepEqual(got, [presence('v', true)]);
  });

  test('publish while Redis is unreachable rejects quickly instead of queueing', async () => {
    // Port 1 refuses connections: this models "Redis is down" without touching the shared server.
    const down = broker({
      redis: { host: '127.0.0.1', port: 1, retryStrategy: () => 50 },
      publishTimeoutMs: 200,
    });
    const started = Date.now();
    await assert.rejects(down.publish(Topics.node('x'), presence('u', true)), /not connected/);
    assert.ok(Date.now() - started < 1500, 'rejected within the bound');
    assert.ok(errors.length > 0, 'connection errors reach onError');
  });

  test('a publish racing a killed publisher connection settles in bounded time, then publishing resumes', async () => {
    const name = `parley-test-${prefix.slice(5, 13)}`;
    const a = broker({ connectionName: name, publishTimeoutMs: 500 });
    const got: Notice[] = [];
    await a.subscribe(Topics.node('a'), (n) => got.push(n));
    await a.publish(Topics.node('a'), presence('warm-up', true));
    await waitFor(() => got.length === 1, 3000, 'warm-up notice');

    const list = (await admin.client('LIST')) as string;
    const id = list
      .split('\n')
      .find((l) => l.includes(` name=${name}:pub `))
      ?.match(/^id=(\d+)/)?.[1];
    assert.ok(id, 'publisher connection is listed');
    await admin.client('KILL', 'ID', id);

    // Resolves or rejects, but never hangs nor is resent later (that could deliver it twice).
    const started = Date.now();
    await a.publish(Topics.node('a'), presence('racing', true)).catch(() => {});
    assert.ok(Date.now() - started < 1500, 'settled within the bound');

    await waitFor(
      async () => {
        await a.publish(Topics.node('a'), presence('after-kill', true)).catch(() => {});
        return got.some((n) => n.type === 'presence' && n.user === 'after-kill');
      },
      5000,
      'publishing after reconnect',
    );
    assert.ok(got.filter((n) => n.type === 'presence' && n.user === 'racing').length <= 1);
  });

  test('after the subscriber connection is killed, subscriptions come back and notices flow', async () => {
    const name = `parley-test-${prefix.slice(5, 13)}`;
    const a = broker({ connectionName: name });
    const b = broker();
    const topicA = Topics.node('a');
    const topicP = Topics.presence(user('carol'));
    const got: Notice[] = [];
    let reconnects = 0;
    a.onReconnect(() => (reconnects += 1));
    await a.subscribe(topicA, (n) => got.push(n));
    await a.subscribe(topicP, (n) => got.push(n));
    assert.equal(reconnects, 0, 'the first connect is not a reconnect');

    const subId = async (): Promise<string | undefined> => {
      const list = (await admin.client('LIST')) as string;
      const line = list.split('\n').find((l) => l.includes(` name=${name}:sub `));
      return line?.match(/^id=(\d+)/)?.[1];
    };
    const before = await subId();
    assert.ok(before, 'subscriber connection is listed');
    assert.equal(await admin.client('KILL', 'ID', before), 1);

    // Notices published during the gap may be lost (at-most-once): publish until one arrives.
    await waitFor(
      async () => {
        await b.publish(topicA, presence('after-kill', true));
        return got.length > 0;
      },
      5000,
      'notices after reconnect',
    );
    const after = await subId();
    assert.ok(after && after !== before, 'a new subscriber connection');
    assert.equal(reconnects, 1, 'reconnect handlers ran once, so sessions can resync');
    assert.equal(await numsub(topicA), 1);
    assert.equal(await numsub(topicP), 1);

    got.length = 0;
    await b.publish(topicP, presence('carol', true));
    await waitFor(() => got.length === 1, 3000, 'presence notice after reconnect');
    assert.deepEqual(got, [presence('carol', true)]);
  });
});

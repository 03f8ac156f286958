/**
 * A node on Redis that stops with many live sessions finishes their close-time cleanup (route
 * detach, presence offline) before it closes the broker, router and presence: no session's
 * cleanup fails against a closed Redis client, and no user is left showing online.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { UserId } from '@parley/protocol';
import { TokenIssuer } from '../../src/auth/tokens.ts';
import { portsFor } from '../../src/ports.ts';
import { RedisPresence } from '../../src/presence/RedisPresence.ts';
import { newDeviceId, newUserId } from '../../src/util/ids.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { TestClient } from '../helpers/clients.ts';
import { startServer } from '../helpers/server.ts';
import { REDIS_URL, adminClient, deleteKeys, redisSkip, uniquePrefix } from './support.ts';

const skip = await redisSkip();
const SESSIONS = 300;

describe('stopping a node on Redis', { skip }, () => {
  const prefix = uniquePrefix();
  const admin = adminClient();
  before(async () => {
    await admin.ping();
  });
  after(async () => {
    await deleteKeys(admin, prefix);
    admin.disconnect();
  });

  it(`waits for the cleanup of ${SESSIONS} sessions before closing its Redis clients`, async () => {
    const warnings: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as { level: number; msg: string; err?: { message?: string } };
          if (entry.level >= 40) warnings.push(`${entry.msg}: ${entry.err?.message ?? ''}`);
        }
        done();
      },
    });
    const logger = pino({ level: 'warn' }, sink);
    const server = await startServer({}, portsFor({ redisUrl: REDIS_URL, redisPrefix: prefix }, logger));
    // Users made through the store port with tokens from the node's secret: no scrypt per user.
    const issuer = new TokenIssuer('test-secret', 600);
    const users: UserId[] = [];
    const tokens: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const user = newUserId();
      const device = newDeviceId();
      await server.node.store.createUser({ id: user, handle: `stop${i}_${Date.now()}`, passwordHash: 'x', createdAt: Date.now() });
      await server.node.store.createDevice({ id: device, user, name: 'test', refreshHash: '', createdAt: Date.now() });
      users.push(user);
      tokens.push((await issuer.issue({ user, device })).token);
    }
    const clients = await Promise.all(tokens.map(async (t) => new TestClient(await connectWs(server.url, t))));
    await Promise.all(clients.map((c) => c.welcome()));
    const presence = new RedisPresence({ redis: REDIS_URL, prefix });
    try {
      assert.equal((await presence.online(users)).size, SESSIONS, 'all online before the stop');
      await server.stop();
      assert.deepEqual(warnings, [], 'no cleanup ran against a closed broker, router or presence');
      // A connection whose disconnect never ran stays online until the node's liveness key expires.
      assert.equal((await presence.online(users)).size, 0, 'nobody left online');
    } finally {
      await presence.close();
    }
  });
});

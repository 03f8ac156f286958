/**
 * Starting a group-scenario target as its own process and filling one group of N members:
 * Parley (an embedded SQLite node, or with `parley-pg` a node on PostgreSQL + Redis; members seeded
 * through the store port (bench/lib/fleet-users.ts), then one `conv.group` plus `conv.add` batches
 * by the first member, as a client would create it), the Socket.IO relay (room `room:g`) or the
 * bare ws group relay (bench/peers/ws-group.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Target } from './drivers.ts';
import type { Member } from './group-drivers.ts';
import { seedUsers } from './fleet-users.ts';
import { pgBacking, type PgBacking } from './pg-target.ts';
import { SqliteStore } from '../../packages/server/src/store/SqliteStore.ts';
import type { Store } from '../../packages/server/src/store/Store.ts';
import { command, startParley } from './server.ts';
import { startPeer, stopChild, storeMode } from './targets.ts';

export interface GroupTarget {
  target: Target;
  url: string;
  pid: number;
  /** The Parley conversation id or the relay room. */
  group: string;
  members: Member[];
  stop(): Promise<void>;
}

/** Members per conv.group / conv.add command: keeps each request well under maxFrameBytes. */
const BATCH = 2000;

export async function startGroupTarget(target: Target, port: number, members: number, env: Record<string, string> = {}): Promise<GroupTarget> {
  if (target.startsWith('parley')) {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-group-'));
    const secret = randomBytes(32).toString('base64url');
    const backing = target === 'parley-pg' ? await pgBacking() : null;
    const users = await seed(backing, dataDir, secret, members);
    const server = await startParley(port, {
      PARLEY_DATA_DIR: dataDir,
      PARLEY_TOKEN_SECRET: secret,
      PARLEY_LIMITS: `maxFramesPerSecond=100000,maxGroupMembers=${Math.max(1024, members)}`,
      // parley-worker / parley-inline: SQLite writes in a writer thread / on the main thread.
      ...storeMode(target),
      ...backing?.env,
      ...env,
    }).catch(async (err: unknown) => {
      await backing?.drop();
      throw err;
    });
    const stop = async () => {
      await server.stop();
      await backing?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    };
    try {
      const owner = users[0]!.token;
      const others = users.slice(1).map((u) => u.user);
      const created = await command<{ conversation: { id: string } }>(server.url, owner, { t: 'conv.group', name: 'bench group', members: others.slice(0, BATCH) });
      const conv = created.conversation.id;
      for (let i = BATCH; i < others.length; i += BATCH) await command(server.url, owner, { t: 'conv.add', conv, users: others.slice(i, i + BATCH) });
      await backing?.analyze();
      return {
        target,
        url: server.url,
        pid: server.child.pid ?? 0,
        group: conv,
        members: users.map((u, index) => ({ who: u.token, index })),
        stop,
      };
    } catch (err) {
      await stop();
      throw err;
    }
  }
  const child = await startPeer(target === 'ws' ? 'ws-group.ts' : 'socketio-relay.ts', port);
  return {
    target,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    group: 'room:g',
    members: Array.from({ length: members }, (_, index) => ({ who: `m${index}`, index })),
    stop: () => stopChild(child),
  };
}

/** Seeds the members into the store the node will open (it must not run yet). */
async function seed(backing: PgBacking | null, dataDir: string, secret: string, n: number) {
  const store: Store = backing ? await backing.store() : new SqliteStore({ path: join(dataDir, 'parley.db') });
  try {
    if (!backing) await store.migrate();
    return await seedUsers(store, n, 'm', secret);
  } finally {
    await store.close();
  }
}

/**
 * `parley start --workers 2` on one shared SQLite file and Redis: SDK clients connect to the one
 * port and land on both workers; clients on different workers exchange messages exactly once; a
 * worker killed with SIGKILL under traffic is restarted by the primary while its clients reconnect,
 * resume from their cursors and lose nothing; SIGTERM to the primary drains every worker.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { register } from '../helpers/server.ts';
import { freshPrefix, REDIS_URL, clusterSkip } from '../cluster/support/services.ts';
import { describeCounts, openParty, Traffic, type Party } from '../cluster/support/traffic.ts';
import { alive, sleep, startWorkers, until, type Workers } from './support.ts';

const skip = await clusterSkip({ redis: true });

/** One conversation per cross-worker pair (a fresh 2-member group each time) and one of everyone. */
async function crossWorkerConvs(pairs: [Party, Party][], everyone: Party[], tag: string): Promise<{ id: string; members: Party[] }[]> {
  const convs: { id: string; members: Party[] }[] = [];
  for (const [a, b] of pairs) convs.push({ id: (await a.client.group(`${tag}-${a.name}-${b.name}`, [b.tokens.user])).id, members: [a, b] });
  const all = await everyone[0]!.client.group(`${tag}-all`, everyone.slice(1).map((p) => p.tokens.user));
  convs.push({ id: all.id, members: [...everyone] });
  return convs;
}

describe('parley start --workers 2', { skip, timeout: 180_000 }, () => {
  let workers: Workers;
  let prefix: { prefix: string; drop(): Promise<void> };
  const parties: Party[] = [];
  const byWorker = new Map<string, Party[]>();

  before(async () => {
    prefix = freshPrefix(REDIS_URL);
    workers = await startWorkers(2, prefix.prefix, REDIS_URL);
    // The primary hands connections to the workers in turn; open parties until both hold two.
    for (let i = 0; i < 16 && [...byWorker.values()].filter((l) => l.length >= 2).length < 2; i++) {
      const p = openParty(`p${i}`, await register(workers.url, `w${i}_`), workers.url);
      await p.client.whenConnected();
      parties.push(p);
      const node = p.nodes[0]!;
      byWorker.set(node, [...(byWorker.get(node) ?? []), p]);
    }
  });
  after(async () => {
    await Promise.allSettled(parties.map((p) => p.client.close()));
    await workers?.stop();
    await prefix?.drop();
  });

  it('spreads clients over both workers, and clients on different workers exchange messages exactly once', async (t) => {
    const nodes = [...workers.current().keys()];
    assert.equal(nodes.length, 2);
    for (const n of nodes) assert.ok((byWorker.get(n)?.length ?? 0) >= 2, `two clients on ${n}: ${JSON.stringify([...byWorker].map(([k, v]) => [k, v.length]))}`);
    const [w0, w1] = nodes.map((n) => byWorker.get(n)!) as [Party[], Party[]];
    const pairs: [Party, Party][] = [
      [w0[0]!, w1[0]!],
      [w1[1]!, w0[1]!],
    ];
    const everyone = [w0[0]!, w0[1]!, w1[0]!, w1[1]!];
    const traffic = new Traffic(everyone, await crossWorkerConvs(pairs, everyone, 'a'));
    traffic.start(30);
    await sleep(2000);
    await traffic.settle(30_000);
    const c = traffic.count();
    t.diagnostic(describeCounts('two workers', c));
    assert.deepEqual(traffic.failures(), []);
    assert.ok(c.sent > 50, `traffic flowed (${c.sent} sends)`);
    assert.equal(c.acked, c.sent);
    assert.equal(c.lost, 0);
    assert.equal(c.duplicated, 0);
    assert.equal(c.reordered, 0);
    assert.equal(c.delivered, c.expectedDeliveries, 'every member got every message exactly once');
  });

  it('restarts a SIGKILLed worker; its clients reconnect and resume with nothing lost', async (t) => {
    const [victimNode, victimPid] = [...workers.current()][0]!;
    const victims = byWorker.get(victimNode)!;
    const others = [...byWorker].filter(([n]) => n !== victimNode).flatMap(([, l]) => l);
    const everyone = [...victims.slice(0, 2), ...others.slice(0, 2)];
    const pairs: [Party, Party][] = [
      [victims[0]!, others[0]!],
      [others[1]!, victims[1]!],
    ];
    const traffic = new Traffic(everyone, await crossWorkerConvs(pairs, everyone, 'b'));
    const linksBefore = new Map(victims.map((p) => [p, p.nodes.length]));
    traffic.start(30);
    await sleep(1500);
    process.kill(victimPid, 'SIGKILL');
    await until(() => !alive(victimPid), 10_000, 'the killed worker to be gone');
    // Traffic continues while the victim's clients reconnect (to the survivor or the replacement).
    await sleep(3000);
    await traffic.settle(60_000);
    await until(() => workers.current().get(victimNode) !== victimPid, 30_000, `the primary to restart ${victimNode}`);

    const c = traffic.count();
    t.diagnostic(describeCounts('worker SIGKILL', c));
    t.diagnostic(`victim clients' links: ${victims.map((p) => p.nodes.join('>')).join(', ')}`);
    assert.deepEqual(traffic.failures(), []);
    assert.equal(c.acked, c.sent);
    assert.equal(c.lost, 0);
    assert.equal(c.duplicated, 0);
    assert.equal(c.reordered, 0);
    assert.equal(c.delivered, c.expectedDeliveries);
    for (const p of victims.slice(0, 2)) assert.ok(p.nodes.length > linksBefore.get(p)!, `${p.name} reconnected`);
    assert.ok(alive(workers.current().get(victimNode)!), 'the replacement worker runs');
    assert.equal(workers.proc.exitCode, null, 'the primary survived');
  });

  it('drains every worker on SIGTERM and exits 0', async () => {
    const pids = [...workers.current().values()];
    const { code, signal } = await workers.stop();
    assert.equal(signal, null);
    assert.equal(code, 0);
    for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
    assert.match(workers.output(), /parley workers stopped/);
  });
});

describe('parley start --workers 2 without Redis', () => {
  it('refuses to start, saying what is missing', async () => {
    const { spawnPrimary } = await import('./support.ts');
    const env: Record<string, string> = { PARLEY_PORT: '0', PARLEY_DATA_DIR: `/tmp/parley-noredis-${randomBytes(4).toString('hex')}`, PARLEY_REDIS_URL: '' };
    const { lines, exited } = spawnPrimary(['--workers', '2'], env);
    const { code } = await exited;
    assert.equal(code, 2);
    assert.match(lines.join('\n'), /--workers 2 needs PARLEY_REDIS_URL/);
  });
});

/**
 * One cluster for one test file: a fresh schema and Redis prefix, N node processes, a front door,
 * and helpers to register users and open SDK parties on it. `close()` undoes all of it.
 */
import type { Tokens } from '@parley/protocol';
import { register } from '../../helpers/server.ts';
import { Balancer } from './balancer.ts';
import { spawnNode, spawnNodes, type ClusterEnv, type NodeProcess } from './nodes.ts';
import { openParty, type Party } from './traffic.ts';
import { freshPrefix, freshSchema, PG_URL, REDIS_URL } from './services.ts';

export class Cluster {
  readonly parties: Party[] = [];

  private constructor(
    readonly env: ClusterEnv,
    readonly nodes: NodeProcess[],
    readonly door: Balancer,
    private readonly cleanup: (() => Promise<void>)[],
  ) {}

  static async start(ids: readonly string[], where: { databaseUrl?: string; redisUrl?: string } = {}): Promise<Cluster> {
    const databaseUrl = where.databaseUrl ?? PG_URL;
    const redisUrl = where.redisUrl ?? REDIS_URL;
    const schema = await freshSchema(databaseUrl);
    const prefix = freshPrefix(redisUrl);
    const env: ClusterEnv = { databaseUrl, schema: schema.schema, redisUrl, prefix: prefix.prefix };
    const nodes = await spawnNodes(ids, env).catch(async (err: unknown) => {
      await schema.drop().catch(() => {});
      throw err;
    });
    const door = await Balancer.start(nodes.map((n) => n.port));
    return new Cluster(env, nodes, door, [() => schema.drop(), () => prefix.drop()]);
  }

  node(id: string): NodeProcess {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Start one more node on the same backing services (and put it behind the door). */
  async add(id: string): Promise<NodeProcess> {
    const n = await spawnNode(id, this.env);
    this.nodes.push(n);
    this.door.setBackends(this.nodes.filter((x) => x.alive).map((x) => x.port));
    return n;
  }

  register(prefix: string): Promise<Tokens> {
    return register(this.nodes.find((n) => n.alive)!.url, prefix);
  }

  /**
   * Registers and connects `n` SDK parties through the door, one after another, so the door's
   * round robin puts party i on node i mod N.
   */
  async openParties(n: number, prefix = 'p'): Promise<Party[]> {
    const out: Party[] = [];
    for (let i = 0; i < n; i++) {
      const tokens = await this.register(`${prefix}${i}_`);
      const p = openParty(`${prefix}${i}`, tokens, this.door.url);
      await p.client.whenConnected();
      out.push(p);
      this.parties.push(p);
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.parties.map((p) => p.client.close()));
    await this.door.close();
    await Promise.allSettled(this.nodes.map((n) => n.stop(5000)));
    for (const c of this.cleanup) await c().catch(() => {});
    // After a failed fault test, a client may still be backing off towards a node that is gone and
    // keep this test file's process alive; the run must end anyway (its results are reported).
    setTimeout(() => process.exit(process.exitCode ?? 0), 15_000).unref();
  }
}

/** The direct conversations between consecutive pairs (0-1, 2-3 ...) and one group of everyone. */
export async function pairsAndGroup(parties: Party[]): Promise<{ id: string; members: Party[] }[]> {
  const convs: { id: string; members: Party[] }[] = [];
  for (let i = 0; i + 1 < parties.length; i += 2) {
    const a = parties[i]!;
    const b = parties[i + 1]!;
    convs.push({ id: (await a.client.direct(b.tokens.user)).id, members: [a, b] });
  }
  const group = await parties[0]!.client.group('everyone', parties.slice(1).map((p) => p.tokens.user));
  convs.push({ id: group.id, members: [...parties] });
  return convs;
}

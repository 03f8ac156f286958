/**
 * A private PostgreSQL cluster for the test that restarts the database mid-traffic (the shared
 * cluster on 5432 is never touched): `initdb` into a temporary directory, then `pg_ctl start/stop`
 * on a free port with the socket in that directory. PostgreSQL refuses to run as root, so as root
 * the binaries run as the `postgres` OS user (`runuser`), in a directory that user owns.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const run = promisify(execFile);

/** The newest installed server's bin directory, or null. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

async function uidOf(user: string): Promise<{ uid: number; gid: number } | null> {
  try {
    const [u, g] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])]);
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  } catch {
    return null;
  }
}

export class PrivatePostgres {
  private running = false;

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
    private readonly asUser: string | null,
  ) {}

  static async create(): Promise<PrivatePostgres> {
    const bin = postgresBin();
    if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
    const isRoot = process.getuid?.() === 0;
    const owner = isRoot ? await uidOf('postgres') : null;
    if (isRoot && !owner) throw new Error('running as root and there is no `postgres` OS user to run PostgreSQL as');
    const dir = mkdtempSync(join(tmpdir(), 'parley-pg-'));
    if (owner) chownSync(dir, owner.uid, owner.gid);
    const pgc = new PrivatePostgres(bin, dir, await freePort(), isRoot ? 'postgres' : null);
    await pgc.exec('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    return pgc;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private async exec(tool: string, args: string[]): Promise<void> {
    const cmd = join(this.bin, tool);
    if (this.asUser) await run('runuser', ['-u', this.asUser, '--', cmd, ...args], { cwd: this.dir });
    else await run(cmd, args, { cwd: this.dir });
  }

  async start(): Promise<void> {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    await this.exec('pg_ctl', ['-D', join(this.dir, 'data'), '-o', opts, '-l', join(this.dir, 'log'), '-w', '-t', '30', 'start']);
    this.running = true;
  }

  /** `fast` disconnects clients and stops; `immediate` is a crash without a shutdown checkpoint. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.exec('pg_ctl', ['-D', join(this.dir, 'data'), '-m', mode, '-w', '-t', '30', 'stop']);
  }

  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

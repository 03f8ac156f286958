/** Start real Parley nodes on port 0 for tests, each with its own data folder. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Tokens } from '@parley/protocol';
import { ParleyNode, type NodePorts } from '../../src/node.ts';
import type { PartialOptions } from '../../src/options.ts';

export const silent = pino({ level: process.env['PARLEY_TEST_LOG'] ?? 'silent' });

export interface TestServer {
  node: ParleyNode;
  dataDir: string;
  url: string;
  /** Stop gracefully and start again on the same data folder (and port). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startServer(options: PartialOptions = {}, ports: NodePorts = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'parley-test-'));
  const base: PartialOptions = { port: 0, host: '127.0.0.1', tokenSecret: 'test-secret', ...options, dataDir };
  const server: TestServer = {
    node: await ParleyNode.start(base, { logger: silent, ...ports }),
    dataDir,
    get url() {
      return server.node.url;
    },
    async restart() {
      const port = server.node.port;
      await server.node.stop();
      server.node = await ParleyNode.start({ ...base, port }, { logger: silent });
    },
    async stop() {
      await server.node.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

let counter = 0;
/** A unique handle per call, so tests never collide. */
export function handle(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${counter}_${Math.random().toString(36).slice(2, 7)}`;
}

export async function post<T>(url: string, path: string, body: unknown, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

export async function register(url: string, prefix?: string): Promise<Tokens> {
  const res = await post<Tokens>(url, '/v1/auth/register', { handle: handle(prefix), password: 'correct horse' });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function login(url: string, handleName: string): Promise<Tokens> {
  const res = await post<Tokens>(url, '/v1/auth/login', { handle: handleName, password: 'correct horse' });
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  return res.body;
}

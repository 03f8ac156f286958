/**
 * docs/sdk.md's quick start must run as written: this test cuts the code block that follows
 * `<!-- example: quickstart -->` out of the doc, points its `@parley/client` import at this
 * package, and runs it in a child process against a real node.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startNode, type TestNode } from './helpers.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');

function quickstart(): string {
  const doc = readFileSync(join(repo, 'docs/sdk.md'), 'utf8');
  const m = /<!-- example: quickstart -->\s*```ts\n([\s\S]*?)```/.exec(doc);
  if (!m?.[1]) throw new Error('docs/sdk.md: no quickstart code block');
  return m[1];
}

describe('docs/sdk.md', () => {
  let server: TestNode;
  let dir: string;
  before(async () => {
    server = await startNode();
    dir = mkdtempSync(join(tmpdir(), 'parley-doc-'));
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('quick start runs as written', async () => {
    const code = quickstart();
    assert.match(code, /from '@parley\/client'/);
    const file = join(dir, 'quickstart.mts');
    const sdk = pathToFileURL(join(repo, 'packages/client/src/index.ts')).href;
    writeFileSync(file, code.replace(`'@parley/client'`, JSON.stringify(sdk)));
    const out = await new Promise<string>((resolvePromise, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', file],
        { cwd: repo, env: { ...process.env, PARLEY_URL: server.url }, timeout: 45_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`)) : resolvePromise(stdout)),
      );
    });
    const lines = out.trim().split('\n').sort();
    assert.deepEqual(lines, ['alice sees: read', 'alice sent #1 over websocket', 'bob got "hello bob"']);
  });
});

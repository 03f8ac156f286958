/**
 * The server serves the built app at `/`: files as they are, index.html for client-side routes,
 * API paths untouched, and a clear 503 page when the app was not built. No browser needed.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildApp, cleanTemps, startNode, tempDir } from './helpers.ts';
import type { ParleyNode } from '../../server/src/node.ts';

const nodes: ParleyNode[] = [];
after(async () => {
  for (const n of nodes) await n.stop();
  cleanTemps();
});

test('serves the built app with an SPA fallback; API paths stay JSON', async () => {
  const dist = await buildApp();
  const node = await startNode(tempDir('parley-web-static-'));
  nodes.push(node);
  const root = await fetch(`${node.url}/`);
  assert.equal(root.status, 200);
  assert.match(root.headers.get('content-type') ?? '', /text\/html/);
  assert.equal(root.headers.get('cache-control'), 'no-cache');
  const html = await root.text();
  assert.match(html, /<div id="app"/);

  const deep = await fetch(`${node.url}/c/some-conversation?x=1`);
  assert.equal(deep.status, 200);
  assert.equal(await deep.text(), html);

  const asset = readdirSync(join(dist, 'assets')).find((f) => f.endsWith('.js'));
  assert.ok(asset);
  const js = await fetch(`${node.url}/assets/${asset}`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  assert.match(js.headers.get('cache-control') ?? '', /immutable/);

  assert.equal((await fetch(`${node.url}/assets/missing-file.js`)).status, 404);
  assert.equal((await fetch(`${node.url}/favicon.svg`)).status, 200);

  const api = await fetch(`${node.url}/v1/no-such-endpoint`);
  assert.equal(api.status, 404);
  assert.equal(((await api.json()) as { code: string }).code, 'NOT_FOUND');
  assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${node.url}/../../etc/passwd`)).status, 200, 'normalised by the URL parser to /etc/passwd: the app');
  const traversal = await fetch(`${node.url}/assets/..%2f..%2fpackage.json`);
  assert.notEqual(traversal.status, 200);
});

test('answers 503 with an explanation when the app is not built', async () => {
  process.env['PARLEY_WEB_DIR'] = tempDir('parley-web-empty-');
  const node = await startNode(tempDir('parley-web-static-'));
  nodes.push(node);
  const res = await fetch(`${node.url}/`);
  assert.equal(res.status, 503);
  assert.match(await res.text(), /npm run build/);
  assert.equal((await fetch(`${node.url}/c/x`)).status, 503);
  assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
});

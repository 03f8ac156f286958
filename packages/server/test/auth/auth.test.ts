import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import type { Tokens } from '@parley/protocol';
import { handle, post, register, startServer, type TestServer } from '../helpers/server.ts';

/** Open a socket and report how the server ended it (or that it sent a welcome). */
function connectOutcome(url: string, token: string): Promise<{ welcome: boolean; code: number; reason: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws?token=${encodeURIComponent(token)}`);
    let welcome = false;
    ws.on('message', (d) => {
      if (JSON.parse(d.toString()).t === 'welcome') {
        welcome = true;
        ws.close();
      }
    });
    ws.on('close', (code, reason) => resolve({ welcome, code, reason: reason.toString() }));
    ws.on('error', () => {});
  });
}

describe('accounts and devices', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => server.stop());

  it('registers, refuses a taken handle (any case), logs in and refuses a wrong password', async () => {
    const name = handle('Reg');
    const first = await post<Tokens>(server.url, '/v1/auth/register', { handle: name, password: 'long enough' });
    assert.equal(first.status, 201);
    assert.ok(first.body.access && first.body.refresh && first.body.device);
    const taken = await post<{ code: string }>(server.url, '/v1/auth/register', { handle: name.toUpperCase(), password: 'long enough' });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'HANDLE_TAKEN');
    const ok = await post<Tokens>(server.url, '/v1/auth/login', { handle: name, password: 'long enough' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.user, first.body.user);
    assert.notEqual(ok.body.device, first.body.device, 'each login is a new device');
    const bad = await post<{ code: string }>(server.url, '/v1/auth/login', { handle: name, password: 'wrong password' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 'BAD_CREDENTIALS');
    const nobody = await post<{ code: string }>(server.url, '/v1/auth/login', { handle: 'nobody_here', password: 'whatever1' });
    assert.equal(nobody.body.code, 'BAD_CREDENTIALS');
  });

  it('rejects malformed auth bodies with INVALID', async () => {
    for (const body of [{}, { handle: 'ab', password: 'long enough' }, { handle: 'ok_name', password: 'short' }, { handle: 'x y z', password: 'long enough' }]) {
      const res = await post<{ code: string }>(server.url, '/v1/auth/register', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, 'INVALID');
    }
  });

  it('stores no plain password', async () => {
    const t = await register(server.url);
    const [u] = await server.node.store.usersById([t.user as never]);
    assert.ok(u?.passwordHash.startsWith('scrypt$'));
    assert.ok(!u?.passwordHash.includes('correct horse'));
  });

  it('refresh rotates the token once; a reused refresh token fails', async () => {
    const t = await register(server.url);
    const next = await post<Tokens>(server.url, '/v1/auth/refresh', { refresh: t.refresh });
    assert.equal(next.status, 200);
    assert.equal(next.body.device, t.device);
    assert.notEqual(next.body.refresh, t.refresh);
    const reused = await post<{ code: string }>(server.url, '/v1/auth/refresh', { refresh: t.refresh });
    assert.equal(reused.status, 401);
    assert.equal(reused.body.code, 'UNAUTHORIZED');
    assert.equal((await connectOutcome(server.url, next.body.access)).welcome, true);
  });

  it('logout revokes the device: its token no longer connects or refreshes, and its live socket closes', async () => {
    const t = await register(server.url);
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1/ws?token=${t.access}`);
    await new Promise((r) => ws.once('message', r));
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    const out = await fetch(`${server.url}/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${t.access}` } });
    assert.equal(out.status, 204);
    assert.equal(await closed, 4001);
    const again = await connectOutcome(server.url, t.access);
    assert.equal(again.welcome, false);
    assert.equal(again.code, 4001);
    assert.equal((await post<{ code: string }>(server.url, '/v1/auth/refresh', { refresh: t.refresh })).status, 401);
  });

  it('refuses bad, forged and expired tokens with close code 4001', async () => {
    const t = await register(server.url);
    assert.equal((await connectOutcome(server.url, 'garbage')).code, 4001);
    const forged = await new SignJWT({ dev: t.device }).setProtectedHeader({ alg: 'HS256' }).setSubject(t.user).setExpirationTime('1h').sign(new TextEncoder().encode('another secret'));
    assert.equal((await connectOutcome(server.url, forged)).code, 4001);
    const expired = await new SignJWT({ dev: t.device }).setProtectedHeader({ alg: 'HS256' }).setSubject(t.user).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode('test-secret'));
    const res = await connectOutcome(server.url, expired);
    assert.equal(res.code, 4001);
    assert.equal(res.reason, 'TOKEN_EXPIRED');
    const http = await fetch(`${server.url}/v1/cmd`, { method: 'POST', headers: { authorization: `Bearer ${expired}`, 'content-type': 'application/json' }, body: '{"t":"ping","id":1}' });
    assert.equal(http.status, 401);
    assert.equal(((await http.json()) as { code: string }).code, 'TOKEN_EXPIRED');
  });

  it('answers /healthz with 200 when ready', async () => {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
  });
});

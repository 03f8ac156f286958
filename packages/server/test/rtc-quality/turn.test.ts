/**
 * TURN credentials against a real coturn on loopback (`use-auth-secret`): two werift peers forced
 * to relay (`iceTransportPolicy: 'relay'`) with credentials from turn.ts exchange data through it.
 * coturn must be installed (`apt-get install -y coturn`); without it the test skips locally and
 * fails in CI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import { iceServersFor, turnCredentials, verifyTurnCredentials } from '../../src/rtc/turn.ts';

const TURNSERVER = ['/usr/bin/turnserver', '/usr/local/bin/turnserver'].find((p) => existsSync(p));
const inCi = process.env['CI'] === 'true';
const SECRET = 'parley-turn-test-secret';

/** Sends a STUN Binding request; true when anything answers within 200 ms. */
async function stunAnswers(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  const req = Buffer.alloc(20);
  req.writeUInt16BE(0x0001, 0);
  req.writeUInt32BE(0x2112a442, 4);
  for (let i = 8; i < 20; i++) req[i] = Math.floor(Math.random() * 256);
  try {
    return await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 200);
      s.once('message', () => {
        clearTimeout(t);
        resolve(true);
      });
      s.send(req, port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('TURN REST credentials', () => {
  it('have the coturn shape and verify only with the right secret, before expiry', () => {
    const now = Date.UTC(2026, 0, 1);
    const c = turnCredentials(SECRET, 'u_alice', 3600, now);
    assert.equal(c.username, `${now / 1000 + 3600}:u_alice`);
    assert.equal(c.expiresAt, now / 1000 + 3600);
    assert.match(c.credential, /^[A-Za-z0-9+/]{27}=$/, 'base64 of a 20-byte SHA-1 HMAC');
    assert.ok(verifyTurnCredentials(SECRET, c.username, c.credential, now));
    assert.ok(!verifyTurnCredentials('other', c.username, c.credential, now));
    assert.ok(!verifyTurnCredentials(SECRET, c.username, c.credential, now + 3601_000), 'expired');
    assert.throws(() => turnCredentials('', 'u'), RangeError);
    assert.throws(() => turnCredentials(SECRET, 'a:b'), RangeError);
  });

  it('ICE server list: STUN, then TURN with fresh credentials, then static entries', () => {
    const list = iceServersFor('u_bob', { stunUrls: ['stun:t.example:3478'], turn: { urls: ['turn:t.example:3478'], secret: SECRET, ttlSeconds: 60 }, extra: [{ urls: 'stun:other:3478' }] }, 1_000_000);
    assert.deepEqual(list[0], { urls: ['stun:t.example:3478'] });
    assert.equal(list[1]?.username, '1060:u_bob');
    assert.ok(verifyTurnCredentials(SECRET, list[1]!.username!, list[1]!.credential!, 1_000_000));
    assert.deepEqual(list[2], { urls: 'stun:other:3478' });
    assert.deepEqual(iceServersFor('u', {}), []);
  });
});

describe('TURN relay through a real coturn on loopback', { skip: !TURNSERVER && !inCi ? 'coturn not installed (apt-get install -y coturn)' : false }, () => {
  let coturn: ChildProcess;
  let port = 0;
  let dir = '';
  const log: string[] = [];
  const pcs: RTCPeerConnection[] = [];

  /**
   * Starts coturn on a fresh port, independent of the machine's /etc/turnserver.conf (Debian's sends
   * the log to syslog), logging to a file the failure message quotes. Ready once it answers a STUN
   * Binding request. A start that does not answer in 5 s (the port taken between probe and bind, a
   * slow machine) is retried on another port, three times in all.
   */
  async function startCoturn(attempt: number): Promise<void> {
    port = await freeUdpPort();
    const minPort = 20_000 + Math.floor(Math.random() * 20_000);
    const conf = join(dir, `turn-${attempt}.conf`);
    const logFile = join(dir, `turn-${attempt}.log`);
    writeFileSync(conf, [
      'use-auth-secret', `static-auth-secret=${SECRET}`, 'realm=parley',
      'listening-ip=127.0.0.1', 'relay-ip=127.0.0.1', `listening-port=${port}`,
      `min-port=${minPort}`, `max-port=${minPort + 100}`, 'no-rfc5780',
      'no-cli', 'no-tls', 'no-dtls', 'no-tcp-relay', 'allow-loopback-peers', 'fingerprint',
      `pidfile=${join(dir, `turn-${attempt}.pid`)}`, `userdb=${join(dir, `turndb-${attempt}`)}`,
      'no-stdout-log', 'simple-log', `log-file=${logFile}`, '',
    ].join('\n'));
    coturn = spawn(TURNSERVER!, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    coturn.stdout?.on('data', (b: Buffer) => log.push(b.toString()));
    coturn.stderr?.on('data', (b: Buffer) => log.push(b.toString()));
    const started = Date.now();
    while (!(await stunAnswers(port))) {
      const why = coturn.exitCode !== null ? `exited with ${coturn.exitCode}` : Date.now() - started > 5_000 ? 'gave no STUN answer in 5 s' : '';
      if (!why) continue;
      const fileLog = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '(no log file)';
      if (coturn.exitCode === null) {
        const gone = new Promise((r) => coturn.once('exit', r));
        coturn.kill('SIGKILL');
        await gone;
      }
      const detail = `coturn on 127.0.0.1:${port} ${why} (attempt ${attempt}); output:\n${log.join('').slice(-1000)}\nlog:\n${fileLog.slice(-2000)}`;
      if (attempt >= 3) throw new Error(detail);
      console.error(detail);
      return startCoturn(attempt + 1);
    }
  }

  before(async () => {
    assert.ok(TURNSERVER, 'turnserver must be installed in CI');
    dir = mkdtempSync(join(tmpdir(), 'parley-coturn-'));
    await startCoturn(1);
  });

  after(async () => {
    await Promise.allSettled(pcs.map((pc) => pc.close()));
    if (coturn && coturn.exitCode === null) {
      const gone = new Promise((r) => coturn.once('exit', r));
      coturn.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  function relayPeer(user: string, override: { username?: string; credential?: string } = {}): RTCPeerConnection {
    const [server] = iceServersFor(user, { turn: { urls: [`turn:127.0.0.1:${port}?transport=udp`], secret: SECRET, ttlSeconds: 600 } });
    const pc = new RTCPeerConnection({
      iceServers: [{ ...server!, ...override }],
      iceTransportPolicy: 'relay',
      iceUseIpv6: false,
      iceAdditionalHostAddresses: ['127.0.0.1'],
    });
    pcs.push(pc);
    return pc;
  }

  /** Offer/answer with full ICE gathering (no trickle), as the signaling would carry it. */
  async function connect(a: RTCPeerConnection, b: RTCPeerConnection): Promise<void> {
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription!);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription!);
  }

  it('two relay-only peers with issued credentials exchange data through coturn, on relay candidates', async () => {
    const a = relayPeer('u_alice');
    const b = relayPeer('u_bob');
    const dc = a.createDataChannel('chat');
    const got = new Promise<string>((resolve) => {
      b.onDataChannel.subscribe((ch: RTCDataChannel) => ch.onMessage.subscribe((m) => resolve(m.toString())));
    });
    const open = new Promise<void>((resolve) => dc.stateChanged.subscribe((s) => s === 'open' && resolve()));
    await connect(a, b);
    assert.match(a.localDescription!.sdp, / typ relay /, 'a gathered relay candidates');
    assert.doesNotMatch(a.localDescription!.sdp, / typ host /, 'and nothing else');
    await Promise.race([open, new Promise((_, rej) => setTimeout(() => rej(new Error(`no connection via TURN; coturn log:\n${log.join('').slice(-3000)}`)), 20_000))]);
    dc.send('hello through the relay');
    assert.equal(await got, 'hello through the relay');
    for (const pc of [a, b]) {
      const pair = pc.iceTransports[0]?.connection.nominated;
      assert.ok(pair, 'a nominated pair');
      assert.equal(pair.localCandidate.type, 'relay');
      assert.equal(pair.remoteCandidate.type, 'relay');
    }
  });

  it('coturn refuses a wrong secret and an expired username: no relay candidate is gathered', async () => {
    const expired = turnCredentials(SECRET, 'u_old', 60, Date.now() - 3600_000);
    for (const override of [{ credential: turnCredentials('not-the-secret', 'u_eve').credential }, { username: expired.username, credential: expired.credential }]) {
      const bad = relayPeer('u_eve', override);
      bad.createDataChannel('x');
      await bad.setLocalDescription(await bad.createOffer());
      assert.doesNotMatch(bad.localDescription!.sdp, / typ relay /, JSON.stringify(override));
    }
  });
});

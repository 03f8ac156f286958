/**
 * Keeps docs/protocol.md honest.
 *
 * 1. The worked example: every ```json block after an `<!-- example: NAME -->` marker is either a
 *    frame (or HTTP body) the client sends, which this test sends as written, or one it receives,
 *    which is compared with what a real server actually sent: same keys at every level, same `t`,
 *    `k` and every other value, except
 *    - placeholders for ids (`u_ALICE`, `d_BOB`, `c_ALICE_BOB`, `n_NODE`: a prefix, `_`, capitals),
 *      which bind to the real id the first time they are seen and must be that id everywhere after;
 *    - tokens and timestamps (VARIABLE below), which are compared by type only.
 *    Every example block of the document must be used here, and every frame the two clients
 *    receive must be one the document shows.
 * 2. The reference tables (error codes, close codes, limits) and the command sections against the
 *    catalogues in @parley/protocol.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CloseCodes, CommandSchemas, DefaultLimits, ErrorCodes, RtcCommandSchemas, type ServerFrame, type Tokens } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { post, startServer, type TestServer } from '../helpers/server.ts';

const DOC_URL = new URL('../../../../docs/protocol.md', import.meta.url);
const doc = readFileSync(DOC_URL, 'utf8');

// --- the document's examples ---------------------------------------------------------------------

interface Example {
  value: unknown;
  attrs: Record<string, string>;
}

function parseExamples(md: string): Map<string, Example> {
  const out = new Map<string, Example>();
  const re = /<!-- example: ([\w.-]+)((?:\s+[\w-]+=[^\s>]+)*)\s*-->\s*\n```json\n([\s\S]*?)\n```/g;
  for (const m of md.matchAll(re)) {
    const [, name = '', attrText = '', json = ''] = m;
    assert.ok(!out.has(name), `example "${name}" appears twice in docs/protocol.md`);
    const attrs: Record<string, string> = {};
    for (const a of attrText.trim().split(/\s+/).filter(Boolean)) {
      const [k = '', v = ''] = a.split('=');
      attrs[k] = v;
    }
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new Error(`example "${name}" in docs/protocol.md is not valid JSON: ${(err as Error).message}`);
    }
    out.set(name, { value, attrs });
  }
  // A marker whose block did not parse as an example would silently go unchecked.
  const markers = [...md.matchAll(/<!-- example: ([\w.-]+)/g)].length;
  assert.equal(out.size, markers, 'every `<!-- example: NAME -->` marker must be followed by a ```json block');
  return out;
}

const examples = parseExamples(doc);
const used = new Set<string>();
let sessionCompleted = false;

function example(name: string): Example {
  const ex = examples.get(name);
  assert.ok(ex, `docs/protocol.md has no example "${name}"`);
  used.add(name);
  return ex;
}

// --- comparing a documented frame with a real one ------------------------------------------------

/** Ids are written as placeholders: prefix, underscore, capitals (u_ALICE, c_ALICE_BOB, n_NODE). */
const PLACEHOLDER = /^([udcn])_[A-Z][A-Z_]*$/;
/** Values that differ on every run: compared by type only. */
const VARIABLE = new Set(['ts', 'createdAt', 'activeAt', 'accessExpiresAt', 'now', 'access', 'refresh']);

class Matcher {
  readonly bindings = new Map<string, string>();

  bind(placeholder: string, real: string): void {
    const prev = this.bindings.get(placeholder);
    if (prev !== undefined) {
      assert.equal(real, prev, `${placeholder} was already bound to ${prev}`);
      return;
    }
    for (const [p, v] of this.bindings) assert.notEqual(v, real, `${placeholder} and ${p} stand for the same id ${real}`);
    this.bindings.set(placeholder, real);
  }

  /** The documented value with bound placeholders replaced by the real ids (for frames we send). */
  fill(value: unknown): unknown {
    if (typeof value === 'string') return this.bindings.get(value) ?? value;
    if (Array.isArray(value)) return value.map((v) => this.fill(v));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.fill(v)]));
    return value;
  }

  match(expected: unknown, actual: unknown, path: string, key = ''): void {
    if (VARIABLE.has(key)) {
      assert.equal(typeof actual, typeof expected, `${path}: type of a ${key}`);
      if (typeof actual === 'string') assert.ok(actual.length > 0, `${path}: empty ${key}`);
      return;
    }
    if (typeof expected === 'string') {
      const ph = PLACEHOLDER.exec(expected);
      if (ph) {
        assert.equal(typeof actual, 'string', `${path}: expected an id for ${expected}, got ${JSON.stringify(actual)}`);
        assert.ok((actual as string).startsWith(`${ph[1]}_`), `${path}: ${JSON.stringify(actual)} should be an id like ${expected}`);
        this.bind(expected, actual as string);
        return;
      }
    }
    if (Array.isArray(expected)) {
      assert.ok(Array.isArray(actual), `${path}: expected an array, got ${JSON.stringify(actual)}`);
      assert.equal(actual.length, expected.length, `${path}: array length`);
      expected.forEach((e, i) => this.match(e, actual[i], `${path}[${i}]`));
      return;
    }
    if (expected !== null && typeof expected === 'object') {
      assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${path}: expected an object, got ${JSON.stringify(actual)}`);
      const e = expected as Record<string, unknown>;
      const a = actual as Record<string, unknown>;
      assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${path}: keys`);
      for (const k of Object.keys(e)) this.match(e[k], a[k], `${path}.${k}`, k);
      return;
    }
    assert.equal(actual, expected, `${path}: value`);
  }
}

/** Replace placeholder strings inside a documented value (e.g. Alice's welcome -> Bob's). */
function renamed(value: unknown, map: Record<string, string>): unknown {
  if (typeof value === 'string') return map[value] ?? value;
  if (Array.isArray(value)) return value.map((v) => renamed(v, map));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renamed(v, map)]));
  return value;
}

// --- the example session -------------------------------------------------------------------------

describe('docs/protocol.md worked example', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  it('the frames of the example are the frames a real server sends', async () => {
    const m = new Matcher();
    const matched = new Set<ServerFrame>();

    /** Check a received frame against a documented one; remember it was documented. */
    const check = (name: string, frame: ServerFrame, value: unknown = example(name).value) => {
      m.match(value, frame, name);
      matched.add(frame);
    };
    /** Send a documented client frame as written (ids filled in); returns it. */
    const sendDoc = (c: TestClient, name: string): Record<string, unknown> => {
      const frame = m.fill(example(name).value) as Record<string, unknown>;
      c.link.send(JSON.stringify(frame));
      return frame;
    };
    const answerTo = (c: TestClient, id: unknown) => c.waitFor((f) => (f.t === 'res' || f.t === 'err') && f.id === id, 5000, `answer ${String(id)}`);
    const event = (c: TestClient, cursor: number) => c.waitFor((f) => f.t === 'ev' && f.c === cursor, 5000, `ev ${cursor}`);

    // 1. Register.
    const regA = example('register-alice-request');
    const resA = await post<Tokens>(server.url, '/v1/auth/register', regA.value);
    const respEx = example('register-alice-response');
    assert.equal(resA.status, Number(respEx.attrs['status']), `register status: ${JSON.stringify(resA.body)}`);
    m.match(respEx.value, resA.body, 'register-alice-response');
    const resB = await post<Tokens>(server.url, '/v1/auth/register', example('register-bob-request').value);
    assert.equal(resB.status, Number(respEx.attrs['status']), `register bob: ${JSON.stringify(resB.body)}`);
    m.bind('u_BOB', resB.body.user);
    m.bind('d_BOB', resB.body.device);

    // 2. Connect; the welcome.
    const alice = new TestClient(await connectWs(server.url, resA.body.access), false);
    const bob = new TestClient(await connectWs(server.url, resB.body.access), false);
    clients.push(alice, bob);
    const welcome = example('welcome-alice').value;
    check('welcome-alice', await alice.welcome());
    check('welcome-alice', await bob.welcome(), renamed(welcome, { u_ALICE: 'u_BOB', d_ALICE: 'd_BOB' }));
    assert.deepEqual((await alice.welcome()).limits, DefaultLimits, 'the welcome shows the default limits');

    // 3. Open the direct conversation.
    const direct = sendDoc(alice, 'alice-conv-direct');
    check('alice-conv-direct-res', await answerTo(alice, direct['id']));
    check('ev-conv-created', await event(alice, 1));
    check('ev-conv-created', await event(bob, 1));
    sendDoc(alice, 'ack-1');
    sendDoc(bob, 'ack-1');

    // 4. Send; 5. receive.
    const send = sendDoc(alice, 'alice-send');
    const sent = await answerTo(alice, send['id']);
    check('alice-send-res', sent);
    check('ev-message', await event(alice, 2));
    check('ev-message', await event(bob, 2));

    // The retry with the same cmid.
    const retry = sendDoc(alice, 'alice-send-retry');
    const again = await answerTo(alice, retry['id']);
    check('alice-send-retry-res', again);
    assert.equal(again.t === 'res' && (again.data as { ts: number }).ts, sent.t === 'res' && (sent.data as { ts: number }).ts, 'a retry answers the original ts');

    // 6. Ack -> delivered receipt.
    sendDoc(bob, 'bob-ack-2');
    check('alice-ev-receipt-delivered', await event(alice, 3));

    // 7. Read -> read event and read receipt.
    const read = sendDoc(bob, 'bob-read');
    check('bob-read-res', await answerTo(bob, read['id']));
    check('bob-ev-read', await event(bob, 3));
    check('alice-ev-receipt-read', await event(alice, 4));
    alice.link.send({ t: 'ack', cursor: 4 });
    bob.link.send({ t: 'ack', cursor: 3 });

    // 8. Message info.
    const info = sendDoc(alice, 'alice-msg-info');
    check('alice-msg-info-res', await answerTo(alice, info['id']));

    // 9. An error.
    const bad = sendDoc(alice, 'alice-send-unknown');
    check('alice-send-unknown-err', await answerTo(alice, bad['id']));

    // Flush both connections with a ping: everything sent before it has been handled by now.
    for (const c of [alice, bob]) {
      c.link.send({ t: 'ping', id: 'flush' });
      matched.add(await answerTo(c, 'flush'));
    }
    // Fire-and-forget acks got no answer; the retry appended nothing; nothing undocumented arrived.
    assert.deepEqual(alice.events().map((f) => f.c), [1, 2, 3, 4]);
    assert.deepEqual(bob.events().map((f) => f.c), [1, 2, 3]);
    for (const [who, c] of [['alice', alice], ['bob', bob]] as const) {
      const extra = c.frames.filter((f) => !matched.has(f));
      assert.deepEqual(extra, [], `${who} received frames the example does not show`);
    }
    assert.equal(m.bindings.get('n_NODE'), server.node.options.nodeId);
    sessionCompleted = true;
  });

  it('uses every example block of the document', (t) => {
    // Runs after the session above (node:test runs a describe's tests in order); after a failure
    // there, the unused blocks are only its consequence.
    if (!sessionCompleted) {
      t.skip('the example session failed');
      return;
    }
    const unused = [...examples.keys()].filter((n) => !used.has(n));
    assert.deepEqual(unused, [], 'example blocks in docs/protocol.md that no test checks');
  });
});

// --- the reference tables ------------------------------------------------------------------------

/** The rows of the table after `<!-- table: NAME -->`, as arrays of trimmed cells, header excluded. */
function table(name: string): string[][] {
  const at = doc.indexOf(`<!-- table: ${name} -->`);
  assert.ok(at >= 0, `docs/protocol.md has no table "${name}"`);
  const lines = doc.slice(at).split('\n').slice(1);
  const rows: string[][] = [];
  for (const line of lines) {
    if (!line.startsWith('|')) {
      if (rows.length > 0) break;
      continue;
    }
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
  }
  assert.ok(rows.length > 2, `table "${name}" has no rows`);
  return rows.slice(2); // header and separator
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, '');

describe('docs/protocol.md reference tables', () => {
  it('lists every error code with its HTTP status and temporary flag, and no other', () => {
    const rows = table('errors');
    const codes = rows.map((r) => unquote(r[0] ?? ''));
    assert.deepEqual([...codes].sort(), Object.keys(ErrorCodes).sort());
    for (const r of rows) {
      const code = unquote(r[0] ?? '') as keyof typeof ErrorCodes;
      assert.equal(Number(r[1]), ErrorCodes[code].status, `HTTP status of ${code}`);
      assert.equal(r[2], ErrorCodes[code].temporary ? 'yes' : 'no', `temporary flag of ${code}`);
    }
  });

  it('lists every close code under its name', () => {
    const rows = table('close-codes');
    for (const [name, code] of Object.entries(CloseCodes)) {
      const row = rows.find((r) => Number(r[0]) === code);
      assert.ok(row, `close code ${code} (${name}) is missing`);
      assert.equal(row[1], `\`${name}\``, `name of close code ${code}`);
    }
    const named = rows.filter((r) => r[1]?.startsWith('`'));
    assert.equal(named.length, Object.keys(CloseCodes).length, 'rows with a backticked name are exactly the CloseCodes');
  });

  it('lists every limit with its default, and no other', () => {
    const rows = table('limits');
    const names = rows.map((r) => unquote(r[0] ?? ''));
    assert.deepEqual([...names].sort(), Object.keys(DefaultLimits).sort());
    for (const r of rows) {
      const name = unquote(r[0] ?? '') as keyof typeof DefaultLimits;
      assert.equal(Number(r[1]), DefaultLimits[name], `default of ${name}`);
    }
  });

  // Meeting commands are documented in docs/meetings.md; this page only names them.
  const meetingTypes = new Set(Object.keys(RtcCommandSchemas));
  const section5 = (): string => {
    const sectionStart = doc.indexOf('\n## 5. Client commands');
    const sectionEnd = doc.indexOf('\n## 6.', sectionStart);
    assert.ok(sectionStart >= 0 && sectionEnd > sectionStart, 'section 5 (Client commands) not found');
    return doc.slice(sectionStart, sectionEnd);
  };

  it('names every meeting command and points to docs/meetings.md', () => {
    const section = section5();
    assert.ok(section.includes('](meetings.md)'), 'section 5 links docs/meetings.md');
    for (const t of meetingTypes) assert.ok(section.includes(`\`${t}\``), `meeting command ${t} is not named in section 5`);
  });

  it('has a section for every chat command, naming each of its fields', () => {
    const section = section5();
    const headings = [...section.matchAll(/^### `([^`]+)`$/gm)].map((x) => x[1] ?? '');
    const chat = Object.keys(CommandSchemas).filter((t) => !meetingTypes.has(t));
    assert.deepEqual([...headings].sort(), chat.sort(), 'command headings of section 5');
    for (const [t, schema] of Object.entries(CommandSchemas)) {
      if (meetingTypes.has(t)) continue;
      const start = section.indexOf(`### \`${t}\`\n`);
      const next = section.indexOf('\n### ', start + 1);
      const body = section.slice(start, next < 0 ? undefined : next);
      const fields = Object.keys(schema.properties).filter((f) => f !== 't' && f !== 'id');
      if (fields.length === 0) continue;
      // The first table of the section is the field table: one row per field, nothing else.
      const lines = body.split('\n');
      const from = lines.findIndex((l) => l.startsWith('|'));
      assert.ok(from >= 0, `the section of ${t} has no field table`);
      let to = from;
      while (to < lines.length && lines[to]?.startsWith('|')) to++;
      const rows = lines.slice(from + 2, to).map((l) => l.split('|').map((c) => c.trim()));
      const documented = rows.map((r) => unquote(r[1] ?? ''));
      assert.deepEqual([...documented].sort(), [...fields].sort(), `fields of ${t} in its field table`);
      const required = new Set<string>(schema.required ?? []);
      for (const r of rows) {
        const field = unquote(r[1] ?? '');
        assert.equal((r[2] ?? '').includes('optional'), !required.has(field), `${t}.${field}: "optional" in the type column`);
      }
    }
  });
});

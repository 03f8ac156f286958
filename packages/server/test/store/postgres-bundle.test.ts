/**
 * bundle.ts and the transactions that use it (tx.ts), against a real PostgreSQL
 * (PARLEY_TEST_PG, default postgres://postgres@127.0.0.1:5432/test): parameters written into a
 * statement's text as literals read back exactly as the same values sent as parameters; a
 * bundled BEGIN and COMMIT make one transaction; a failing bundled statement leaves nothing.
 *
 * Unreachable PostgreSQL skips the file, except with CI=true, where it fails.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inline, literal, queryAndCommit } from '../../src/store/postgres/bundle.ts';
import { query } from '../../src/store/postgres/prepared.ts';
import { inTx } from '../../src/store/postgres/tx.ts';

const URL = process.env.PARLEY_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('bundle: literals', () => {
  it('replaces each $n once, in one pass, and never inside a value', () => {
    assert.equal(inline('SELECT $1, $10, $2', ['$2', 'b', 3, 4, 5, 6, 7, 8, 9, 'ten']), "SELECT '$2', 'ten', 'b'");
    assert.equal(literal(null), 'NULL');
    assert.equal(literal(undefined), 'NULL');
    assert.equal(literal(42), "'42'");
    assert.equal(literal("it's"), "'it''s'");
    assert.equal(literal('a\\b'), " E'a\\\\b'");
  });

  it('refuses a placeholder without a value and a value it cannot write as text', () => {
    assert.throws(() => inline('SELECT $2', ['a']), RangeError);
    assert.throws(() => inline('SELECT $0', ['a']), RangeError);
    assert.throws(() => literal(Buffer.from('x')), TypeError);
  });
});

describe('bundle: against PostgreSQL', async () => {
  const probe = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 2000 });
  probe.on('error', () => {});
  const reachable = await probe.connect().then(() => true, () => false);
  await probe.end().catch(() => {});
  if (!reachable && process.env.CI === 'true') {
    test('PostgreSQL is reachable (required when CI=true)', () => {
      throw new Error(`PostgreSQL unreachable at ${URL}`);
    });
  }
  const skip = reachable ? false : `PostgreSQL unreachable at ${URL}`;
  const schema = `parley_bundle_${randomBytes(4).toString('hex')}`;
  let pool: pg.Pool;

  before(async () => {
    if (skip) return;
    pool = new pg.Pool({ connectionString: URL, max: 2, options: `-c search_path=${schema}` });
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query('CREATE TABLE t (id text PRIMARY KEY, n bigint)');
  });
  after(async () => {
    if (skip) return;
    await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await pool.end();
  });

  it('inlined arrays, texts and numbers read back as the same values sent as parameters', { skip }, async () => {
    const texts = ["it's", 'say "hi"', 'back\\slash', '{"a",NULL}', '$1 $$ $x$', 'nl\nend', '\u{1F600}', null, ''];
    const nums = [0, -1, 2 ** 53 - 1, null];
    const sql = 'SELECT $1::text[] AS a, $2::bigint[] AS b, $3::text AS c, $4::bigint AS d';
    const values = [texts, nums, "'; SELECT 1; --", 7];
    const asParams = await pool.query(sql, values);
    const inlined = await pool.query(inline(sql, values));
    assert.deepEqual(inlined.rows, asParams.rows);
    assert.deepEqual(inlined.rows[0].a, texts);
  });

  it('a bundled BEGIN and COMMIT make one transaction of three statements in two round trips', { skip }, async () => {
    await inTx(pool, async (c) => {
      await query(c, 'INSERT INTO t (id, n) VALUES ($1, $2)', ['one', 1]);
      // Visible to the transaction itself, not yet to another connection.
      const other = await pool.query('SELECT count(*)::int AS n FROM t WHERE id = $1', ['one']);
      assert.equal(other.rows[0].n, 0);
      await queryAndCommit(c, 'INSERT INTO t (id, n) VALUES ($1, $2)', ['two', 2]);
    }, { bundleBegin: true });
    const { rows } = await pool.query('SELECT id, n FROM t ORDER BY id');
    assert.deepEqual(rows, [{ id: 'one', n: '1' }, { id: 'two', n: '2' }]);
  });

  it('a failing bundled statement rolls back the whole transaction and the error reaches the caller', { skip }, async () => {
    await assert.rejects(
      inTx(pool, async (c) => {
        await query(c, 'INSERT INTO t (id, n) VALUES ($1, $2)', ['three', 3]);
        await queryAndCommit(c, 'INSERT INTO t (id, n) VALUES ($1, $2)', ['one', 9]);
      }, { bundleBegin: true }),
      (err: unknown) => (err as { code?: string }).code === '23505',
    );
    const { rows } = await pool.query('SELECT id, n FROM t ORDER BY id');
    assert.deepEqual(rows, [{ id: 'one', n: '1' }, { id: 'two', n: '2' }]);
    // The connection went back to the pool outside any transaction: the next one commits.
    await inTx(pool, (c) => queryAndCommit(c, 'DELETE FROM t WHERE id = $1', ['two']), { bundleBegin: true });
    const left = await pool.query('SELECT id FROM t ORDER BY id');
    assert.deepEqual(left.rows, [{ id: 'one' }]);
  });
});

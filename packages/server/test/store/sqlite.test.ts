/** Runs the Store conformance suite against SqliteStore, one temporary database file per test. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/SqliteStore.ts';
import type { Store } from '../../src/store/Store.ts';
import { storeSuite } from './suite.ts';

const dirs = new Map<Store, string>();

storeSuite(
  'SqliteStore',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
    const store = new SqliteStore({ path: join(dir, 'parley.db') });
    dirs.set(store, dir);
    return store;
  },
  async (store) => {
    const dir = dirs.get(store);
    dirs.delete(store);
    if (dir) rmSync(dir, { recursive: true, force: true });
  },
);

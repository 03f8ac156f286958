/** Runs the Store conformance suite against a SQLite-backed store, one temporary database file per test. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../../src/store/Store.ts';
import { storeSuite } from './suite.ts';

export function sqliteStoreSuite(name: string, open: (path: string) => Store): void {
  const dirs = new Map<Store, string>();
  storeSuite(
    name,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
      const store = open(join(dir, 'parley.db'));
      dirs.set(store, dir);
      return store;
    },
    async (store) => {
      const dir = dirs.get(store);
      dirs.delete(store);
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  );
}

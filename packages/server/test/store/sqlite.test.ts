/** Runs the Store conformance suite against SqliteStore, one temporary database file per test. */
import { SqliteStore } from '../../src/store/SqliteStore.ts';
import { sqliteStoreSuite } from './temp-sqlite.ts';

sqliteStoreSuite('SqliteStore', (path) => new SqliteStore({ path }));

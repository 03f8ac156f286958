/**
 * The Store conformance suite once more with every conversation of two or more members keeping
 * its messages in runs (sqlite/runs.ts), so each contract (cursors dense and exactly once, sync,
 * acks and receipts, membership changes) is checked through the run path as well.
 */
import { SqliteStore } from '../../src/store/SqliteStore.ts';
import { sqliteStoreSuite } from './temp-sqlite.ts';

sqliteStoreSuite('SqliteStore (runs for every conversation)', (path) => new SqliteStore({ path, runThreshold: 2 }));

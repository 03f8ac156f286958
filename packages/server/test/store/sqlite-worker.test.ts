/** Runs the Store conformance suite against SqliteWorkerStore (writes in a worker thread). */
import { SqliteWorkerStore } from '../../src/store/SqliteWorkerStore.ts';
import { sqliteStoreSuite } from './temp-sqlite.ts';

sqliteStoreSuite('SqliteWorkerStore', (path) => new SqliteWorkerStore({ path }));

/**
 * What a store's caller and its worker thread say to each other (SqliteWorkerStore,
 * PostgresWorkerStore): requests name a Store method and carry its arguments; each reply settles
 * one request. Both sides send what one tick produced as one message (an array), so a fan-out of
 * calls crosses the thread boundary once. Values travel by structured clone (Maps included, and
 * an object shared by several events stays one object).
 */
import { ParleyError } from '@parley/protocol';
import type { Store } from './Store.ts';

export interface WorkerRequest {
  id: number;
  method: keyof Store;
  args: unknown[];
}

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; code: string | null; message: string };

/** A failed request's reply: ParleyErrors keep their code, anything else becomes a plain Error. */
export function failure(id: number, err: unknown): WorkerReply {
  if (err instanceof ParleyError) return { id, ok: false, code: err.code, message: err.message };
  return { id, ok: false, code: null, message: err instanceof Error ? err.message : String(err) };
}

/** Under tsx the worker must register the TypeScript loader before importing the .ts entry. */
export function workerSource(entry: URL): string {
  const load = `import(${JSON.stringify(entry.href)})`;
  return entry.pathname.endsWith('.ts') ? `import('tsx/esm/api').then((m) => { m.register(); return ${load}; })` : load;
}

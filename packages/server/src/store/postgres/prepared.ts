/**
 * Named prepared statements. node-postgres sends a query with parameters as an unnamed statement,
 * which PostgreSQL parses and plans on every call; a named one is parsed once per connection and
 * then only bound and executed. The store's statements are a fixed set of texts (parameters carry
 * every value, arrays included), so each text gets one name for the life of the process.
 *
 * The first statement of a transaction whose BEGIN was deferred (bundle.ts) goes out with it
 * instead, as one simple query.
 */
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { queryWithBegin, takeBegin } from './bundle.ts';

const names = new Map<string, string>();

function nameOf(text: string): string {
  let name = names.get(text);
  if (name === undefined) names.set(text, (name = `parley_${names.size}`));
  return name;
}

/** `client.query(text, values)` as a named prepared statement. */
export function query<R extends QueryResultRow = QueryResultRow>(client: PoolClient, text: string, values: unknown[]): Promise<QueryResult<R>> {
  const begin = takeBegin(client);
  if (begin !== null) return queryWithBegin<R>(client, begin, text, values);
  return client.query<R>({ name: nameOf(text), text, values });
}

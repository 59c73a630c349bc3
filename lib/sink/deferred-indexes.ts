/**
 * Which indexes of a truncated target `truncate_insert` may drop and build again after its INSERT (one
 * sorted build per index instead of a B-tree insertion per row). Only what can be rebuilt exactly: an index
 * nothing else depends on (no foreign key references it), valid, without per-column statistics targets, in
 * a tablespace the role may create in, on an ordinary table that is not a partition or partitioned, owned
 * by the session's role. Everything else stays and is maintained row by row, as before.
 */
import type pg from 'pg';
import { deferredLoadSql, type DeferredIndex } from '../sql/deferred-indexes.ts';
import type { TableName } from '../sql/quote.ts';
import type { Step } from './strategies/types.ts';

/**
 * The steps that run `insert` (into the emptied, locked `target`) with `deferred` dropped before it and built again
 * after it; returns the rows it inserted.
 */
export async function* deferredLoadStatements(
  target: TableName,
  insert: string,
  deferred: readonly DeferredIndex[],
): AsyncGenerator<Step, number, pg.QueryResult | undefined> {
  const { before, after } = deferredLoadSql(target, deferred);
  yield { batch: before, what: "dropping the target's indexes for the load" };
  const inserted = yield { sql: insert, what: 'inserting into the target' };
  yield { batch: after, what: "building the target's indexes" };
  return inserted?.rowCount ?? 0;
}

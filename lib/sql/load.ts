/** SQL text of plain loads: every staged row into the target. Pure functions over names and column lists. */
import type { ColumnSpec } from './types.ts';
import { identList, qualified, type TableName } from './quote.ts';

/**
 * Every staged row into the target; `orderBy`: in the order of these columns (a merge's key: each index leaf
 * and heap page of the target is then visited once, in order, however the source ordered the changes).
 */
export function insertAllSql(target: TableName, staging: TableName, columns: readonly ColumnSpec[], orderBy: readonly string[] = []): string {
  const list = identList(columns.map((c) => c.name));
  const order = orderBy.length > 0 ? ` ORDER BY ${identList(orderBy)}` : '';
  return `INSERT INTO ${qualified(target)} (${list}) SELECT ${list} FROM ${qualified(staging)}${order}`;
}

/** `full_refresh` / `truncate_insert`: readers wait on the lock, then see the new rows. */
export function truncateInsertSql(target: TableName, staging: TableName, columns: readonly ColumnSpec[]): string[] {
  return [`TRUNCATE ${qualified(target)}`, insertAllSql(target, staging, columns)];
}

/** Readers and writers wait until the transaction ends. */
export function lockExclusiveSql(target: TableName): string {
  return `LOCK TABLE ONLY ${qualified(target)} IN ACCESS EXCLUSIVE MODE`;
}

/** Statistics of a staging table for the planner (see needsStagingStatistics in lib/sink/strategies/types.ts). */
export function analyzeStagingSql(staging: TableName): string {
  return `ANALYZE ${qualified(staging)}`;
}

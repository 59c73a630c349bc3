/** SQL text of the load strategies built so far. Pure functions over names and column lists. */
import type { ColumnSpec } from '../state/types.ts';
import { identList, qualified, type TableName } from './quote.ts';

/** `full_refresh` / `truncate_insert`: readers wait on the lock, then see the new rows. */
export function truncateInsertSql(target: TableName, staging: TableName, columns: readonly ColumnSpec[]): string[] {
  const list = identList(columns.map((c) => c.name));
  return [`TRUNCATE ${qualified(target)}`, `INSERT INTO ${qualified(target)} (${list}) SELECT ${list} FROM ${qualified(staging)}`];
}

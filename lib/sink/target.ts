/** What the target table looks like now: its columns and types, its row count. */
import { query, transaction, type Db } from '../db/index.ts';
import { qualified, type TableName } from '../sql/quote.ts';
import { readTableColumns, type TargetColumn } from './catalog/index.ts';

export type { TargetColumn } from './catalog/index.ts';

/** Columns of an existing table, or undefined when it is missing. Opens its own transaction: call outside one. */
export async function describeTable(db: Db, table: TableName): Promise<TargetColumn[] | undefined> {
  return transaction(db, async () => {
    await query(db, 'SET LOCAL search_path = pg_catalog', 'describing the target');
    return readTableColumns(db, table);
  });
}

/** Exact row count of a table. */
export async function countRows(db: Db, table: TableName): Promise<number> {
  const result = await query<{ n: string }>(db, `SELECT count(*) AS n FROM ${qualified(table)}`, 'counting target rows');
  return Number(result.rows[0]?.n ?? 0);
}

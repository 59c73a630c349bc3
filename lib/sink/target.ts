/** What the target table looks like now: whether it exists, its columns and types, its row count. */
import { query, transaction, type Db } from '../db/index.ts';
import { qualified, type TableName } from '../sql/quote.ts';
import type { ColumnSpec } from '../sql/types.ts';

/** A target column: name, type (schema-qualified as `format_type()` prints it), NOT NULL. */
export interface TargetColumn extends ColumnSpec {
  readonly notNull: boolean;
}

/** Columns of an existing table, or undefined when it is missing. Opens its own transaction: call outside one. */
export async function describeTable(db: Db, table: TableName): Promise<TargetColumn[] | undefined> {
  return transaction(db, async () => {
    await query(db, 'SET LOCAL search_path = pg_catalog', 'describing the target');
    const exists = await query<{ oid: string | null }>(
      db,
      { text: 'SELECT to_regclass($1)::oid::int8 AS oid', values: [qualified(table)] },
      'describing the target',
    );
    const oid = exists.rows[0]?.oid;
    if (oid === null || oid === undefined) return undefined;
    const result = await query<{ name: string; type: string; notNull: boolean }>(
      db,
      {
        text: `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS "notNull" FROM pg_attribute
WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        values: [oid],
      },
      'describing the target',
    );
    return result.rows;
  });
}

/** Whether a table exists (usable inside a transaction, unlike describeTable). */
export async function tableExists(db: Db, table: TableName): Promise<boolean> {
  const result = await query<{ exists: boolean }>(
    db,
    { text: 'SELECT to_regclass($1) IS NOT NULL AS exists', values: [qualified(table)] },
    'looking up the target',
  );
  return result.rows[0]?.exists ?? false;
}

/** Exact row count of a table. */
export async function countRows(db: Db, table: TableName): Promise<number> {
  const result = await query<{ n: string }>(db, `SELECT count(*) AS n FROM ${qualified(table)}`, 'counting target rows');
  return Number(result.rows[0]?.n ?? 0);
}

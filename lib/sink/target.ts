/** What the target table looks like now: whether it exists, its columns and types. */
import { query, transaction, type Db } from '../db/index.ts';
import { qualified, type TableName } from '../sql/quote.ts';
import type { ColumnSpec } from '../state/types.ts';

/** Columns of an existing table, types schema-qualified as `format_type()` prints them; undefined when missing. */
export async function describeTable(db: Db, table: TableName): Promise<ColumnSpec[] | undefined> {
  return transaction(db, async () => {
    await query(db, 'SET LOCAL search_path = pg_catalog', 'describing the target');
    const exists = await query<{ oid: string | null }>(db, { text: 'SELECT to_regclass($1)::oid::int8 AS oid', values: [qualified(table)] }, 'describing the target');
    const oid = exists.rows[0]?.oid;
    if (oid === null || oid === undefined) return undefined;
    const result = await query<{ name: string; type: string }>(db, {
      text: `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      values: [oid],
    }, 'describing the target');
    return result.rows;
  });
}

/**
 * Whether the staged keys of a merge can repeat. A source table with a unique index on the key (NOT NULL
 * columns) holds each key once in any snapshot; each chunk is read in one snapshot, so with one chunk, or
 * chunks split on a key column (every row of a key falls in the same chunk), each key is staged at most
 * once and the duplicate-key check, a sort or hash of every staged key, can be skipped. The target's own
 * unique index on the key stays the backstop: should a duplicate slip in anyway (the source's index dropped
 * mid-run), the apply fails on it rather than writing it twice.
 */
import { query, type Db } from '../db/index.ts';
import { qualified, type TableName } from '../sql/quote.ts';

// A valid, non-partial unique index on exactly `keys` (any order), with the types' default operator classes
// and the columns' own collations, over NOT NULL columns: equal keys by the staged types' `=` are equal by it.
// Not on an inheritance parent (its index does not cover the children a SELECT reads); a partitioned
// table's unique index covers every partition.
const UNIQUE_INDEX_SQL = `SELECT ic.relname AS name
FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid JOIN pg_catalog.pg_class c ON c.oid = i.indrelid,
  LATERAL (
    SELECT pg_catalog.count(DISTINCT a.attname) AS names,
      pg_catalog.bool_and(a.attname = ANY ($2::text[]) AND a.attnotnull AND o.opcdefault AND i.indcollation[k] = a.attcollation) AS plain
    FROM pg_catalog.generate_series(0, i.indnkeyatts - 1) k
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k]
    JOIN pg_catalog.pg_opclass o ON o.oid = i.indclass[k]
  ) cols
WHERE i.indrelid = pg_catalog.to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
  AND (c.relkind = 'p' OR NOT c.relhassubclass)
  AND i.indnkeyatts = pg_catalog.cardinality($2::text[]) AND cols.plain AND cols.names = pg_catalog.cardinality($2::text[])
ORDER BY 1 LIMIT 1`;

/** The name of a unique index of `table` on exactly `keys` (NOT NULL columns, default operator classes), if any. */
export async function uniqueIndexOn(db: Db, table: TableName, keys: readonly string[]): Promise<string | undefined> {
  const result = await query<{ name: string }>(
    db,
    { text: UNIQUE_INDEX_SQL, values: [qualified(table), keys] },
    `looking for a unique index on the key of ${qualified(table)}`,
  );
  return result.rows[0]?.name;
}

/** Why the staged keys of a run cannot repeat, or undefined: the run checks them. */
export async function stagedKeysUnique(
  dbs: { source: Db; target: Db },
  tables: { source?: TableName; target: TableName; targetExists: boolean },
  keys: readonly string[],
  chunks: { count: number; column?: string },
): Promise<{ sourceIndex: string; targetIndex: string } | undefined> {
  if (keys.length === 0 || !tables.source || !tables.targetExists) return undefined;
  if (chunks.count > 1 && !(chunks.column !== undefined && keys.includes(chunks.column))) return undefined;
  const sourceIndex = await uniqueIndexOn(dbs.source, tables.source, keys);
  if (!sourceIndex) return undefined;
  const targetIndex = await uniqueIndexOn(dbs.target, tables.target, keys);
  return targetIndex ? { sourceIndex, targetIndex } : undefined;
}

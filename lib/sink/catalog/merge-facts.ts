/** Catalog reads of delete_insert's in-place merge: what decides it, and the rows a statement inserted (the transaction's table statistics). */
import { query, type Db } from '../../db/index.ts';
import { qualified, type TableName } from '../../sql/quote.ts';
import { withCatalogSearchPath } from './search-path.ts';

/** What the catalog says of a target, as inPlaceBlocker (../in-place-merge.ts) reads it. */
export type InPlaceFacts = {
  readonly serverVersion: number;
  /** track_counts: the server counts each transaction's inserted rows per table. */
  readonly trackCounts: boolean;
  readonly kind: string;
  readonly partition: boolean;
  readonly children: boolean;
  readonly rules: boolean;
  readonly rowSecurity: boolean;
  readonly triggers: boolean;
  readonly published: boolean;
  readonly canUpdate: boolean;
  /** A unique index usable as the ON CONFLICT arbiter for exactly the key columns. */
  readonly keyIndex: boolean;
  /** Unique indexes and exclusion constraints, the key's one included. */
  readonly uniqueIndexes: number;
  /** Key columns: name, type, NOT NULL, deterministic collation. */
  readonly keys: readonly { name: string; type: string; notNull: boolean; deterministic: boolean }[];
  /** Columns ON CONFLICT DO UPDATE may assign (not generated), in column order; `always`: GENERATED ALWAYS AS IDENTITY. */
  readonly assignable: readonly { name: string; always: boolean }[];
};

const WHAT = 'reading whether delete_insert may replace rows in place';

const FACTS_SQL = `WITH rel AS (
  SELECT c.oid, c.relkind::text AS kind, c.relispartition AS partition, c.relhassubclass AS children,
    c.relhasrules AS rules, c.relrowsecurity AS row_security, n.nspname, c.relname
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.oid = pg_catalog.to_regclass($1)
)
SELECT pg_catalog.current_setting('server_version_num')::int AS "serverVersion",
  pg_catalog.current_setting('track_counts')::bool AS "trackCounts", rel.kind, rel.partition, rel.children, rel.rules, rel.row_security AS "rowSecurity",
  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = rel.oid) AS triggers,
  EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables p WHERE p.schemaname = rel.nspname AND p.tablename = rel.relname) AS published,
  pg_catalog.has_table_privilege(rel.oid, 'UPDATE') AS "canUpdate",
  EXISTS (
    SELECT 1 FROM pg_catalog.pg_index i,
      LATERAL (
        SELECT pg_catalog.count(DISTINCT a.attname) AS names,
          pg_catalog.bool_and(a.attname = ANY ($2::text[]) AND o.opcdefault AND i.indcollation[k] = a.attcollation) AS plain
        FROM pg_catalog.generate_series(0, i.indnkeyatts - 1) k
        JOIN pg_catalog.pg_attribute a ON a.attrelid = rel.oid AND a.attnum = i.indkey[k]
        JOIN pg_catalog.pg_opclass o ON o.oid = i.indclass[k]
      ) cols
    WHERE i.indrelid = rel.oid AND i.indisunique AND i.indimmediate AND i.indisvalid AND i.indisready AND i.indislive
      AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = pg_catalog.cardinality($2::text[])
      AND cols.plain AND cols.names = pg_catalog.cardinality($2::text[])
  ) AS "keyIndex",
  (SELECT pg_catalog.count(*)::int FROM pg_catalog.pg_index i WHERE i.indrelid = rel.oid AND (i.indisunique OR i.indisexclusion)) AS "uniqueIndexes",
  COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object('name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
      'notNull', a.attnotnull, 'deterministic', COALESCE(co.collisdeterministic, true)))
    FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
    WHERE a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY ($2::text[])
  ), '[]') AS keys,
  COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object('name', a.attname, 'always', a.attidentity = 'a') ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
  ), '[]') AS assignable
FROM rel`;

/** What the catalog says of `target` for an in-place merge on `keys`, or undefined when the target does not exist. */
export async function readInPlaceFacts(db: Db, target: TableName, keys: readonly string[]): Promise<InPlaceFacts | undefined> {
  // format_type under search_path = pg_catalog, as the staged column types were printed.
  const result = await withCatalogSearchPath(db, () => query<InPlaceFacts>(db, { text: FACTS_SQL, values: [qualified(target), keys] }, WHAT));
  return result.rows[0];
}

/**
 * Rows the current transaction has inserted into `target` so far, less the speculative insertions that
 * ON CONFLICT took back when a concurrent insert of the same key won (PostgreSQL counts those as deleted;
 * replacing in place deletes nothing else). Read before and after a statement, the difference is what it
 * inserted. Needs track_counts (a plain table's counters stay 0 without it).
 */
export async function readInsertedInTransaction(db: Db, target: TableName): Promise<number> {
  const result = await query<{ n: string }>(
    db,
    {
      text: `SELECT (pg_catalog.pg_stat_get_xact_tuples_inserted(c) - pg_catalog.pg_stat_get_xact_tuples_deleted(c))::int8 AS n FROM pg_catalog.to_regclass($1) AS c`,
      values: [qualified(target)],
    },
    'counting the rows delete_insert inserted',
  );
  return Number(result.rows[0]?.n ?? 0);
}

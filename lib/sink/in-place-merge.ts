/**
 * When `delete_insert` may replace rows in place. Deleting a target row and inserting its staged version
 * touches the row's page, then a second page for the new row and the key index again (a full-page image
 * of each after a checkpoint); one `INSERT ... ON CONFLICT (key) DO UPDATE` changes the row where it is
 * found, which is measurably faster on the bench's merges (see docs/performance.md). It is used only
 * where the result cannot differ from DELETE + INSERT: same rows, same values (columns not staged get
 * their defaults), same errors, and nothing else that could tell the two apart (triggers, rules, row
 * security, publications, other unique constraints, inheritance children). Everything else keeps the two
 * statements.
 */
import { query, type Db } from '../db/index.ts';
import { qualified, type TableName } from '../sql/quote.ts';
import { withCatalogSearchPath } from './catalog.ts';
import type { ColumnSpec } from '../sql/types.ts';

/** What the catalog says of a target, as {@link inPlaceBlocker} reads it. */
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

/** How delete_insert replaces rows in place. */
export interface InPlaceMerge {
  /**
   * Target columns not staged: set from EXCLUDED, the row INSERT proposed, which holds their defaults
   * evaluated once per row, as the INSERT of delete_insert would have (one nextval, one now()).
   */
  readonly unstaged: readonly string[];
  /** PostgreSQL 18 or later: `RETURNING old` tells updated rows from inserted ones. */
  readonly returningOld: boolean;
  /**
   * track_counts on: the rows the statement inserted are read from the transaction's own table statistics
   * ({@link insertedInTransaction}), so the statement returns nothing; else it counts them in a RETURNING CTE
   * (measurably slower).
   */
  readonly countFromStatistics: boolean;
}

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

/**
 * Why `delete_insert` must delete and insert rather than replace in place, or undefined when it may
 * replace in place. `staged`: the staged columns with their types.
 */
export function inPlaceBlocker(facts: InPlaceFacts, keys: readonly string[], staged: readonly ColumnSpec[]): string | undefined {
  if (facts.kind === 'p' || facts.partition) return 'the target is partitioned or a partition';
  if (facts.kind !== 'r') return `the target is not a plain table (relkind ${facts.kind})`;
  if (facts.children) return 'the target has inheritance children (DELETE reaches them, ON CONFLICT does not)';
  if (facts.triggers) return 'the target has triggers (or foreign keys): they would see UPDATEs instead of DELETEs and INSERTs';
  if (facts.rules) return 'the target has rules';
  if (facts.rowSecurity) return 'the target has row-level security (UPDATE has its own policies)';
  if (facts.published) return 'the target is in a publication (subscribers would receive UPDATEs)';
  if (!facts.canUpdate) return 'the role may not UPDATE the target';
  if (!facts.keyIndex) return 'no immediate, non-partial unique index on exactly the key columns';
  if (facts.uniqueIndexes !== 1) return 'the target has other unique indexes or exclusion constraints (rows swapping values would conflict)';
  const stagedNames = new Set(staged.map((c) => c.name));
  const always = facts.assignable.find((c) => c.always && !stagedNames.has(c.name));
  if (always) return `column ${JSON.stringify(always.name)} is GENERATED ALWAYS AS IDENTITY and not staged (an UPDATE can only draw it anew)`;
  const stagedTypes = new Map(staged.map((c) => [c.name, c.type]));
  for (const name of keys) {
    const key = facts.keys.find((k) => k.name === name);
    if (!key || !key.notNull) return `key column ${JSON.stringify(name)} of the target may be NULL`;
    if (!key.deterministic) return `key column ${JSON.stringify(name)} has a nondeterministic collation`;
    if (stagedTypes.get(name) !== key.type) return `key column ${JSON.stringify(name)} is staged as another type than the target's`;
  }
  return undefined;
}

/** Reads the target's catalog and decides; without `merge`, `blocker` says why delete_insert must delete and insert. */
export async function planInPlaceMerge(
  db: Db,
  target: TableName,
  keys: readonly string[],
  staged: readonly ColumnSpec[],
): Promise<{ merge?: InPlaceMerge; blocker?: string }> {
  if (keys.length === 0) return { blocker: 'no unique_key' };
  // format_type under search_path = pg_catalog, as the staged column types were printed.
  const result = await withCatalogSearchPath(db, () => query<InPlaceFacts>(db, { text: FACTS_SQL, values: [qualified(target), keys] }, WHAT));
  const facts = result.rows[0];
  if (!facts) return { blocker: 'the target does not exist yet' };
  const blocker = inPlaceBlocker(facts, keys, staged);
  if (blocker) return { blocker };
  const stagedNames = new Set(staged.map((c) => c.name));
  return {
    merge: {
      unstaged: facts.assignable.filter((c) => !stagedNames.has(c.name)).map((c) => c.name),
      returningOld: facts.serverVersion >= 180000,
      countFromStatistics: facts.trackCounts,
    },
  };
}

/**
 * Rows the current transaction has inserted into `target` so far, less the speculative insertions that
 * ON CONFLICT took back when a concurrent insert of the same key won (PostgreSQL counts those as deleted;
 * replacing in place deletes nothing else). Read before and after a statement, the difference is what it
 * inserted. Needs track_counts (a plain table's counters stay 0 without it).
 */
export async function insertedInTransaction(db: Db, target: TableName): Promise<number> {
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

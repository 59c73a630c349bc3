/**
 * Which indexes of a truncated target `truncate_insert` may drop and build again after its INSERT (one
 * sorted build per index instead of a B-tree insertion per row). Only what can be rebuilt exactly: an index
 * nothing else depends on (no foreign key references it), valid, without per-column statistics targets, in
 * a tablespace the role may create in, on an ordinary table that is not a partition or partitioned, owned
 * by the session's role. Everything else stays and is maintained row by row, as before.
 */
import type pg from 'pg';
import { query, type Db } from '../db/index.ts';
import { deferredLoadSql, type DeferredIndex } from '../sql/deferred-indexes.ts';
import { INDEX_CONSTRAINT_KINDS } from '../sql/indexes.ts';
import { qualified, type TableName } from '../sql/quote.ts';
import type { Step } from './strategies/types.ts';

const WHAT = "reading the target's indexes";

// Printed under the session's search_path and executed in the same transaction under it, so names mean the same objects.
const INDEXES = `SELECT ic.relname AS name, pg_catalog.pg_get_indexdef(i.indexrelid) AS definition, ts.spcname AS tablespace,
  pg_catalog.obj_description(i.indexrelid, 'pg_class') AS comment,
  k.contype::text AS constraint_type, pg_catalog.pg_get_constraintdef(k.oid) AS constraint_definition,
  k.condeferrable AS deferrable, k.condeferred AS deferred,
  pg_catalog.obj_description(k.oid, 'pg_constraint') AS constraint_comment,
  i.indisreplident AS replica_identity, i.indisclustered AS clustered
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_index i ON i.indrelid = c.oid
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = ic.reltablespace
LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = c.oid AND k.contype IN ('p', 'u', 'x')
WHERE c.oid = $1::regclass AND c.relkind = 'r' AND NOT c.relispartition AND pg_catalog.pg_has_role(c.relowner, 'USAGE')
  AND i.indisvalid AND i.indisready AND i.indislive
  AND (ic.reltablespace = 0 OR pg_catalog.has_tablespace_privilege(ic.reltablespace, 'CREATE'))
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indexrelid AND NULLIF(a.attstattarget::int, -1) IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.deptype = 'n'
    AND ((d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = i.indexrelid)
      OR (k.oid IS NOT NULL AND d.refclassid = 'pg_catalog.pg_constraint'::regclass AND d.refobjid = k.oid)))
ORDER BY ic.relname`;

type Row = {
  name: string;
  definition: string;
  tablespace: string | null;
  comment: string | null;
  constraint_type: 'p' | 'u' | 'x' | null;
  constraint_definition: string | null;
  deferrable: boolean | null;
  deferred: boolean | null;
  constraint_comment: string | null;
  replica_identity: boolean;
  clustered: boolean;
};

/** The target's indexes that can be dropped before the load and rebuilt after it; call after TRUNCATE has locked it. */
export async function readDeferrableIndexes(db: Db, target: TableName): Promise<DeferredIndex[]> {
  const result = await query<Row>(db, { text: INDEXES, values: [qualified(target)] }, WHAT);
  return result.rows.map((r) => ({
    name: r.name,
    definition: r.definition,
    ...(r.tablespace !== null ? { tablespace: r.tablespace } : {}),
    ...(r.comment !== null ? { comment: r.comment } : {}),
    ...(r.constraint_type !== null
      ? {
          constraint: {
            kind: INDEX_CONSTRAINT_KINDS[r.constraint_type],
            definition: r.constraint_definition ?? '',
            deferrable: r.deferrable === true,
            deferred: r.deferred === true,
            ...(r.constraint_comment !== null ? { comment: r.constraint_comment } : {}),
          },
        }
      : {}),
    replicaIdentity: r.replica_identity,
    clustered: r.clustered,
  }));
}

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

/** Catalog reads of a table's indexes: the unique index upsert needs, the ones a load may defer, the ones exchange built ahead. */
import { query, type Db } from '../../db/index.ts';
import type { DeferredIndex } from '../../sql/deferred-indexes.ts';
import { INDEX_CONSTRAINT_KINDS } from '../../sql/indexes.ts';
import { qualified, type TableName } from '../../sql/quote.ts';

/** Whether `table` has a unique index on exactly `keys` (no predicate, no expression, no other key column): what upsert's ON CONFLICT needs. */
export async function readHasUniqueIndexOn(db: Db, table: TableName, keys: readonly string[]): Promise<boolean> {
  const result = await query<{ ok: boolean }>(
    db,
    {
      text: `SELECT EXISTS (
  SELECT 1 FROM pg_index i
  WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
    AND i.indnkeyatts = cardinality($2::text[])
    AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey[0:i.indnkeyatts - 1]))
      = (SELECT array_agg(k ORDER BY k) FROM unnest($2::text[]) k)
) AS ok`,
      values: [qualified(table), keys],
    },
    'looking for the unique index upsert needs',
  );
  return result.rows[0]?.ok === true;
}

const DEFERRABLE_WHAT = "reading the target's indexes";

// Printed under the session's search_path and executed in the same transaction under it, so names mean the same objects.
const DEFERRABLE_INDEXES = `SELECT ic.relname AS name, pg_catalog.pg_get_indexdef(i.indexrelid) AS definition, ts.spcname AS tablespace,
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

type DeferrableRow = {
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

/** The target's indexes that can be dropped before the load and rebuilt after it (which, and why: ../deferred-indexes.ts); call after TRUNCATE has locked it. */
export async function readDeferrableIndexes(db: Db, target: TableName): Promise<DeferredIndex[]> {
  const result = await query<DeferrableRow>(db, { text: DEFERRABLE_INDEXES, values: [qualified(target)] }, DEFERRABLE_WHAT);
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

/** Names of the staged table's indexes built ahead of the transaction (prefixed `<prefix>_p`). */
export async function readPrebuiltIndexes(db: Db, staging: TableName, prefix: string): Promise<string[]> {
  const found = await query<{ name: string }>(
    db,
    {
      text: `SELECT ic.relname AS name FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND left(ic.relname, $3) = $4 ORDER BY 1`,
      values: [staging.schema, staging.name, prefix.length + 2, `${prefix}_p`],
    },
    `exchanging into ${qualified(staging)}: reading the indexes built ahead`,
  );
  return found.rows.map((r) => r.name);
}

/** Catalog reads of partition_replace: the partitioned target, its leaves, their indexes and dependents. */
import { query, type Db } from '../../db/index.ts';
import { INDEX_CONSTRAINT_KINDS } from '../../sql/indexes.ts';
import type { LeafIndex, LeafPartition } from '../../sql/partition.ts';
import { qualified, type TableName } from '../../sql/quote.ts';
import { withCatalogSearchPath } from './search-path.ts';

const PARTITION_WHAT = 'partition_replace';

/** The target as partition_replace needs it. */
export interface TargetInfo {
  readonly oid: string;
  readonly relkind: string;
  readonly columns: readonly { name: string; type: string; generated: boolean }[];
  /** Every partitioned table of the tree (the root first): strategy and key column (null for an expression or several columns). */
  readonly levels: readonly { table: string; strategy: string; key: string | null }[];
}

/** A leaf row of the catalog, before its indexes are read. */
export interface LeafRow extends Omit<LeafPartition, 'indexes'> {
  readonly foreign: boolean;
  readonly isDefault: boolean;
}

/** The target's columns and partitioning, or undefined when it does not exist. */
export async function readPartitionedTarget(db: Db, target: TableName): Promise<TargetInfo | undefined> {
  return withCatalogSearchPath(db, async () => {
    const result = await query<{ oid: string; relkind: string; columns: TargetInfo['columns']; levels: TargetInfo['levels'] | null }>(
      db,
      {
        text: `SELECT c.oid::int8::text AS oid, c.relkind::text AS relkind,
  (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'generated', a.attgenerated <> '') ORDER BY a.attnum)
     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT json_agg(json_build_object('table', p.partrelid::regclass::text, 'strategy', p.partstrat::text,
            'key', CASE WHEN p.partnatts = 1 AND p.partattrs[0] <> 0
                        THEN (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]) END) ORDER BY t.level)
     FROM pg_partition_tree(c.oid) t JOIN pg_partitioned_table p ON p.partrelid = t.relid) AS levels
FROM pg_class c WHERE c.oid = to_regclass($1)`,
        values: [qualified(target)],
      },
      PARTITION_WHAT,
    );
    const row = result.rows[0];
    return row ? { oid: row.oid, relkind: row.relkind, columns: row.columns ?? [], levels: row.levels ?? [] } : undefined;
  });
}

/** Every leaf of the partition tree, with its bound, its partition constraint and what its replacement must keep. */
export async function readLeaves(db: Db, root: string): Promise<LeafRow[]> {
  const result = await query<Record<string, unknown>>(
    db,
    {
      text: `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, pn.nspname AS parent_schema, p.relname AS parent_name,
  pg_get_expr(c.relpartbound, c.oid) AS bound, coalesce(pg_get_partition_constraintdef(c.oid), 'true') AS constraint,
  c.relkind = 'f' AS foreign, pg_get_userbyid(c.relowner) AS owner, c.relpersistence = 'u' AS unlogged, ts.spcname AS tablespace,
  obj_description(c.oid, 'pg_class') AS comment,
  (SELECT json_agg(json_build_object('name', o.option_name, 'value', o.option_value)) FROM pg_options_to_table(c.reloptions) o) AS options,
  CASE WHEN c.relacl IS NOT NULL THEN (SELECT coalesce(json_agg(json_build_object('grantee', CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END,
    'privilege', a.privilege_type, 'grantable', a.is_grantable)), '[]') FROM aclexplode(c.relacl) a) END AS grants
FROM pg_partition_tree($1::oid) t
JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class p ON p.oid = t.parentrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
WHERE t.isleaf ORDER BY c.oid DESC`,
      values: [root],
    },
    PARTITION_WHAT,
  );
  return result.rows.map((r) => {
    const opt = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
    const tablespace = opt(r.tablespace);
    const comment = opt(r.comment);
    return {
      oid: String(r.oid),
      table: { schema: String(r.schema), name: String(r.name) },
      parent: { schema: String(r.parent_schema), name: String(r.parent_name) },
      bound: String(r.bound),
      constraint: String(r.constraint),
      owner: String(r.owner),
      unlogged: r.unlogged === true,
      ...(tablespace === undefined ? {} : { tablespace }),
      options: (r.options ?? []) as LeafPartition['options'],
      ...(comment === undefined ? {} : { comment }),
      grants: (r.grants ?? null) as LeafPartition['grants'],
      foreign: r.foreign === true,
      isDefault: String(r.bound) === 'DEFAULT',
    };
  });
}

/** Indexes of the given leaves, by leaf OID; constraint-backed ones with their constraint. */
export async function readLeafIndexes(db: Db, oids: readonly string[]): Promise<Map<string, LeafIndex[]>> {
  const result = await query<{
    leaf: string;
    name: string;
    definition: string;
    tablespace: string | null;
    constraint_name: string | null;
    constraint_type: 'p' | 'u' | 'x' | null;
    constraint_def: string | null;
    deferrable: boolean | null;
    deferred: boolean | null;
  }>(
    db,
    {
      text: `SELECT i.indrelid::int8::text AS leaf, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
  k.conname AS constraint_name, k.contype::text AS constraint_type, pg_get_constraintdef(k.oid) AS constraint_def,
  k.condeferrable AS deferrable, k.condeferred AS deferred, ts.spcname AS tablespace
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
WHERE i.indrelid = ANY ($1::oid[]) ORDER BY i.indrelid, ic.relname`,
      values: [oids],
    },
    PARTITION_WHAT,
  );
  const out = new Map<string, LeafIndex[]>(oids.map((o) => [o, []]));
  for (const r of result.rows) {
    out.get(r.leaf)?.push({
      name: r.name,
      definition: r.definition,
      ...(r.constraint_name !== null && r.constraint_type !== null && r.constraint_def !== null
        ? {
            constraint: {
              name: r.constraint_name,
              kind: INDEX_CONSTRAINT_KINDS[r.constraint_type],
              definition: r.constraint_def,
              deferrable: r.deferrable === true,
              deferred: r.deferred === true,
            },
          }
        : {}),
      ...(r.tablespace !== null ? { tablespace: r.tablespace } : {}),
    });
  }
  return out;
}

/** What a leaf carries that a rebuilt leaf would lose or that would block dropping it: one line per leaf. */
export async function readLeafDependents(db: Db, oids: readonly string[]): Promise<string[]> {
  const result = await query<{ leaf: string; reasons: string[] }>(
    db,
    {
      text: `SELECT c.oid::regclass::text AS leaf, array_remove(ARRAY[
  (SELECT 'views ' || string_agg(DISTINCT v.oid::regclass::text, ', ') FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
     WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid AND v.oid <> c.oid),
  (SELECT 'foreign keys ' || string_agg(format('%I of %s', k.conname, k.conrelid::regclass), ', ') FROM pg_constraint k
     WHERE k.contype = 'f' AND k.conparentid = 0 AND (k.confrelid = c.oid OR k.conrelid = c.oid)),
  (SELECT 'triggers ' || string_agg(quote_ident(g.tgname), ', ') FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal AND g.tgparentid = 0),
  (SELECT 'row-level security policies ' || string_agg(quote_ident(pol.polname), ', ') FROM pg_policy pol WHERE pol.polrelid = c.oid),
  (SELECT 'publications ' || string_agg(quote_ident(pb.pubname), ', ') FROM pg_publication_rel pr JOIN pg_publication pb ON pb.oid = pr.prpubid WHERE pr.prrelid = c.oid)
], NULL) AS reasons
FROM pg_class c WHERE c.oid = ANY ($1::oid[])`,
      values: [oids],
    },
    PARTITION_WHAT,
  );
  return result.rows.filter((r) => r.reasons.length > 0).map((r) => `${r.leaf} has its own ${r.reasons.join('; ')}`);
}

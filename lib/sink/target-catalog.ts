/**
 * Reads the target's catalog for exchange: what it carries over and what makes it refuse. Definitions are
 * printed with `search_path = pg_catalog`, so every name outside pg_catalog comes out schema-qualified and
 * means the same object when the text is executed. Needs PostgreSQL 14 or later. One `read<Thing>()` per
 * catalog query, composed by readTargetCatalog.
 */
import { query, type Db } from '../db/index.ts';
import { serverVersion } from '../db/server.ts';
import { NotSupportedError } from '../errors.ts';
import type { TableName } from '../sql/quote.ts';
import type { ColumnCatalog, ConstraintCatalog, ConstraintKind, Grant, ObjectName, RelOption, TargetCatalog, TriggerCatalog } from '../sql/target-catalog.ts';
import { withCatalogSearchPath } from './catalog/index.ts';

const WHAT = 'reading the target catalog';

type Row = Record<string, unknown>;

/** The target's catalog, or undefined when the target does not exist. */
export async function readTargetCatalog(db: Db, target: TableName): Promise<TargetCatalog | undefined> {
  const v = await serverVersion(db, WHAT);
  if (v < 140000) {
    throw new NotSupportedError(
      `exchange and shadow_swap need PostgreSQL 14 or later on the target (it runs ${Math.floor(v / 10000)}); use overwrite_type: truncate_insert or merge_policy: delete_insert`,
    );
  }
  return withCatalogSearchPath(db, () => readCatalog(db, target));
}

async function rows(db: Db, text: string, values: readonly unknown[]): Promise<Row[]> {
  return (await query(db, { text, values }, WHAT)).rows;
}

const str = (value: unknown): string => String(value);
const opt = (value: unknown): string | undefined => (value === null || value === undefined ? undefined : String(value));
const num = (value: unknown): number | undefined => (value === null || value === undefined ? undefined : Number(value));
const name = (row: Row, prefix = ''): ObjectName => ({ schema: str(row[`${prefix}schema`]), name: str(row[`${prefix}name`]) });
const grants = (value: unknown): Grant[] =>
  ((value ?? []) as Row[]).map((g) => ({ grantee: opt(g.grantee) ?? null, privilege: str(g.privilege), grantable: g.grantable === true }));

/** The pg_class row of `table` with its owner, options, replica identity, clustering, comment and grants. */
async function readRelation(db: Db, table: TableName): Promise<Row[]> {
  return rows(
    db,
    `SELECT c.oid::int8 AS oid, c.reltype::int8 AS reltype, c.relkind::text AS relkind,
  c.relpersistence::text = 'u' AS unlogged, c.relispartition AS is_partition,
  c.relrowsecurity AS rls, c.relforcerowsecurity AS force_rls, c.relreplident::text AS replident,
  pg_get_userbyid(c.relowner) AS owner, c.reloptions AS options, t.reloptions AS toast_options,
  CASE WHEN c.reloftype <> 0 THEN format_type(c.reloftype, NULL) END AS of_type,
  obj_description(c.oid, 'pg_class') AS comment,
  (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisreplident) AS replident_index,
  (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisclustered) AS cluster_index,
  CASE WHEN c.relacl IS NOT NULL THEN (SELECT json_agg(json_build_object(
    'grantee', CASE WHEN x.grantee <> 0 THEN pg_get_userbyid(x.grantee) END,
    'privilege', x.privilege_type, 'grantable', x.is_grantable)) FROM aclexplode(c.relacl) x) END AS grants
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.name],
  );
}

/** Parents (is_parent) and children of the table, by inheritance or partitioning. */
async function readInheritance(db: Db, oid: string): Promise<Row[]> {
  return rows(
    db,
    `SELECT i.inhrelid = $1 AS is_parent, n.nspname AS schema, c.relname AS name
FROM pg_inherits i JOIN pg_class c ON c.oid = CASE WHEN i.inhrelid = $1 THEN i.inhparent ELSE i.inhrelid END
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhrelid = $1 OR i.inhparent = $1 ORDER BY 2, 3`,
    [oid],
  );
}

/** Columns in order, with default, collation, statistics target, grants and identity sequence. */
async function readColumns(db: Db, oid: string): Promise<Row[]> {
  return rows(
    db,
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
  pg_get_expr(d.adbin, d.adrelid) AS default_expr, col_description(a.attrelid, a.attnum) AS comment,
  a.attidentity::text AS identity, a.attgenerated::text AS generated, NULLIF(a.attstattarget::int, -1) AS statistics,
  CASE WHEN a.attcollation <> ty.typcollation THEN cn.nspname END AS collation_schema, co.collname AS collation_name,
  (SELECT json_agg(json_build_object(
    'grantee', CASE WHEN x.grantee <> 0 THEN pg_get_userbyid(x.grantee) END,
    'privilege', x.privilege_type, 'grantable', x.is_grantable)) FROM aclexplode(a.attacl) x) AS grants,
  seq.schema AS seq_schema, seq.name AS seq_name, ps.seqstart::text AS seq_start, ps.seqincrement::text AS seq_increment,
  ps.seqmin::text AS seq_min, ps.seqmax::text AS seq_max, ps.seqcache::text AS seq_cache, ps.seqcycle AS seq_cycle
FROM pg_attribute a
JOIN pg_type ty ON ty.oid = a.atttypid
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.attgenerated = ''
LEFT JOIN LATERAL (
  SELECT s.oid, sn.nspname AS schema, s.relname AS name FROM pg_depend dep
  JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
  WHERE a.attidentity <> '' AND dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
    AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'i' LIMIT 1
) seq ON true
LEFT JOIN pg_sequence ps ON ps.seqrelid = seq.oid
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  );
}

/** Sequences owned by a column of the table (serial), not identity ones. */
async function readOwnedSequences(db: Db, oid: string): Promise<Row[]> {
  return rows(
    db,
    `SELECT sn.nspname AS schema, s.relname AS name, a.attname AS column
FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND d.deptype = 'a'
ORDER BY 1, 2`,
    [oid],
  );
}

/** Constraints of the table, with the index definition of those an index backs. */
async function readConstraints(db: Db, oid: string): Promise<Row[]> {
  // 'n' (named NOT NULL) exists from PostgreSQL 18; 't' (constraint trigger) comes back with its trigger.
  return rows(
    db,
    `SELECT k.conname AS name, k.contype::text AS type, pg_get_constraintdef(k.oid) AS definition,
  obj_description(k.oid, 'pg_constraint') AS comment, k.contype = 'f' AND k.confrelid = k.conrelid AS self_reference,
  CASE WHEN k.contype = 'n' THEN (SELECT attname FROM pg_attribute WHERE attrelid = k.conrelid AND attnum = k.conkey[1]) END AS column,
  CASE WHEN k.contype IN ('p', 'u', 'x') THEN obj_description(k.conindid, 'pg_class') END AS index_comment,
  CASE WHEN k.contype IN ('p', 'u', 'x') THEN pg_get_indexdef(k.conindid) END AS index_definition,
  (SELECT ts.spcname FROM pg_class ic JOIN pg_tablespace ts ON ts.oid = ic.reltablespace WHERE ic.oid = k.conindid) AS index_tablespace,
  k.condeferrable AS deferrable, k.condeferred AS deferred
FROM pg_constraint k WHERE k.conrelid = $1 AND k.contype IN ('n', 'c', 'p', 'u', 'x', 'f') ORDER BY k.conname`,
    [oid],
  );
}

/** Indexes of the table that back no constraint. */
async function readIndexes(db: Db, oid: string): Promise<Row[]> {
  return rows(
    db,
    `SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, ts.spcname AS tablespace,
  obj_description(i.indexrelid, 'pg_class') AS comment
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
WHERE i.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint k
  WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
ORDER BY ic.relname`,
    [oid],
  );
}

/** User triggers of the table. */
async function readTriggers(db: Db, oid: string): Promise<Row[]> {
  return rows(
    db,
    `SELECT tgname AS name, pg_get_triggerdef(oid) AS definition, tgenabled::text AS enabled,
  obj_description(oid, 'pg_trigger') AS comment
FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY tgname`,
    [oid],
  );
}

/** Extended statistics objects on the table. */
async function readStatistics(db: Db, oid: string): Promise<Row[]> {
  return rows(
    db,
    `SELECT sn.nspname AS schema, s.stxname AS name, pg_get_userbyid(s.stxowner) AS owner,
  ARRAY(SELECT CASE k WHEN 'd' THEN 'ndistinct' WHEN 'f' THEN 'dependencies' WHEN 'm' THEN 'mcv' END
        FROM unnest(s.stxkind) k WHERE k <> 'e') AS kinds,
  pg_get_statisticsobjdef_columns(s.oid) AS columns, NULLIF(s.stxstattarget::int, -1) AS target,
  obj_description(s.oid, 'pg_statistic_ext') AS comment
FROM pg_statistic_ext s JOIN pg_namespace sn ON sn.oid = s.stxnamespace WHERE s.stxrelid = $1 ORDER BY 1, 2`,
    [oid],
  );
}

/** Views and materialized views that read the table. */
async function readDependentViews(db: Db, oid: string): Promise<Row[]> {
  return rows(
    db,
    `SELECT DISTINCT vn.nspname AS schema, v.relname AS name, v.relkind = 'm' AS materialized
FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1
  AND v.oid <> $1 AND v.relkind IN ('v', 'm') ORDER BY 1, 2`,
    [oid],
  );
}

/** Foreign keys of other tables that reference the table. */
async function readReferencingForeignKeys(db: Db, oid: string): Promise<Row[]> {
  return rows(
    db,
    `SELECT k.conname AS fk, n.nspname AS schema, c.relname AS name
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'f' AND k.confrelid = $1 AND k.conrelid <> $1 ORDER BY 2, 3, 1`,
    [oid],
  );
}

/** Names of the row-level security policies of the table. */
async function readPolicies(db: Db, oid: string): Promise<string[]> {
  return (await rows(db, 'SELECT polname AS name FROM pg_policy WHERE polrelid = $1 ORDER BY 1', [oid])).map((r) => str(r.name));
}

/** Names of the rewrite rules of the table. */
async function readRules(db: Db, oid: string): Promise<string[]> {
  return (await rows(db, 'SELECT rulename AS name FROM pg_rewrite WHERE ev_class = $1 ORDER BY 1', [oid])).map((r) => str(r.name));
}

/** Publications that publish the table. */
async function readPublications(db: Db, table: TableName): Promise<Row[]> {
  // Every way in: listed, FOR ALL TABLES, FOR TABLES IN SCHEMA. A rename publishes no row changes, so subscribers would diverge.
  return rows(db, 'SELECT DISTINCT pubname AS name FROM pg_publication_tables WHERE schemaname = $1 AND tablename = $2 ORDER BY 1', [table.schema, table.name]);
}

/** Descriptions of the other objects that depend on the table or its row type. */
async function readOtherDependents(db: Db, oid: string, reltype: string): Promise<Row[]> {
  // Whatever else would make DROP TABLE (without CASCADE) fail, for objects exchange neither carries nor reports
  // by name: functions of the row type, columns of other tables of that type, rules of other tables...
  return rows(
    db,
    `SELECT DISTINCT pg_describe_object(d.classid, d.objid, 0) AS name
FROM pg_depend d
WHERE d.deptype = 'n' AND ((d.refclassid = 'pg_class'::regclass AND d.refobjid = $1) OR (d.refclassid = 'pg_type'::regclass AND d.refobjid = $2))
  AND NOT (d.classid = 'pg_rewrite'::regclass AND EXISTS (SELECT 1 FROM pg_rewrite r JOIN pg_class v ON v.oid = r.ev_class
    WHERE r.oid = d.objid AND (v.oid = $1 OR v.relkind IN ('v', 'm'))))
  AND NOT (d.classid = 'pg_constraint'::regclass AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.oid = d.objid AND (k.conrelid = $1 OR k.contype = 'f')))
  AND NOT (d.classid = 'pg_trigger'::regclass AND EXISTS (SELECT 1 FROM pg_trigger g WHERE g.oid = d.objid AND g.tgrelid = $1))
  AND NOT (d.classid = 'pg_policy'::regclass AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.oid = d.objid AND p.polrelid = $1))
  AND NOT (d.classid = 'pg_class'::regclass AND (d.objid = $1 OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = d.objid AND i.indrelid = $1)))
  AND NOT (d.classid = 'pg_statistic_ext'::regclass AND EXISTS (SELECT 1 FROM pg_statistic_ext s WHERE s.oid = d.objid AND s.stxrelid = $1))
  AND NOT (d.classid = 'pg_attrdef'::regclass AND EXISTS (SELECT 1 FROM pg_attrdef a WHERE a.oid = d.objid AND a.adrelid = $1))
ORDER BY 1`,
    [oid, reltype],
  );
}

const CONSTRAINT_KINDS: Record<string, ConstraintKind> = {
  p: 'primary key',
  u: 'unique',
  x: 'exclude',
  c: 'check',
  f: 'foreign key',
  n: 'not null',
};

const REPLICA_IDENTITY: Record<string, TargetCatalog['replicaIdentity']> = { d: 'default', n: 'nothing', f: 'full', i: 'index' };

async function readCatalog(db: Db, table: TableName): Promise<TargetCatalog | undefined> {
  const rel = (await readRelation(db, table))[0];
  if (!rel) return undefined;
  const oid = str(rel.oid);
  const inheritance = await readInheritance(db, oid);
  const parents = inheritance.filter((r) => r.is_parent === true).map((r) => name(r));
  const columns = (await readColumns(db, oid)).map(toColumn);
  const constraints = (await readConstraints(db, oid)).map((r): ConstraintCatalog => ({
    name: str(r.name),
    kind: CONSTRAINT_KINDS[str(r.type)] ?? 'check',
    definition: str(r.definition),
    comment: opt(r.comment),
    selfReference: r.self_reference === true,
    column: opt(r.column),
    indexComment: opt(r.index_comment),
    ...(r.index_definition !== null && r.index_definition !== undefined
      ? { index: { definition: str(r.index_definition), ...(r.index_tablespace ? { tablespace: str(r.index_tablespace) } : {}) } }
      : {}),
    deferrable: r.deferrable === true,
    deferred: r.deferred === true,
  }));
  const options: RelOption[] = [
    ...((rel.options ?? []) as string[]).map((o) => option(o, '')),
    ...((rel.toast_options ?? []) as string[]).map((o) => option(o, 'toast.')),
  ];
  return {
    table,
    relkind: str(rel.relkind),
    partitioned: rel.relkind === 'p',
    partitionOf: rel.is_partition === true ? parents[0] : undefined,
    inherits: rel.is_partition === true ? [] : parents,
    inheritedBy: inheritance.filter((r) => r.is_parent !== true).map((r) => name(r)),
    ofType: opt(rel.of_type),
    owner: str(rel.owner),
    unlogged: rel.unlogged === true,
    options,
    replicaIdentity: REPLICA_IDENTITY[str(rel.replident)] ?? 'default',
    replicaIdentityIndex: opt(rel.replident_index),
    clusterIndex: opt(rel.cluster_index),
    rowSecurity: rel.rls === true,
    forceRowSecurity: rel.force_rls === true,
    policies: await readPolicies(db, oid),
    comment: opt(rel.comment),
    columns,
    constraints,
    indexes: (await readIndexes(db, oid)).map((r) => ({
      name: str(r.name),
      definition: str(r.definition),
      tablespace: opt(r.tablespace),
      comment: opt(r.comment),
    })),
    triggers: (await readTriggers(db, oid)).map((r) => ({
      name: str(r.name),
      definition: str(r.definition),
      enabled: str(r.enabled) as TriggerCatalog['enabled'],
      comment: opt(r.comment),
    })),
    statistics: (await readStatistics(db, oid)).map((r) => ({
      name: name(r),
      owner: str(r.owner),
      kinds: (r.kinds as string[]).map(str),
      columns: str(r.columns),
      target: num(r.target),
      comment: opt(r.comment),
    })),
    grants: rel.grants === null ? undefined : grants(rel.grants),
    ownedSequences: (await readOwnedSequences(db, oid)).map((r) => ({ sequence: name(r), column: str(r.column) })),
    dependentViews: (await readDependentViews(db, oid)).map((r) => ({ view: name(r), materialized: r.materialized === true })),
    referencingForeignKeys: (await readReferencingForeignKeys(db, oid)).map((r) => ({ name: str(r.fk), table: name(r) })),
    publications: (await readPublications(db, table)).map((r) => str(r.name)),
    rules: await readRules(db, oid),
    otherDependents: (await readOtherDependents(db, oid, str(rel.reltype))).map((r) => str(r.name)),
  };
}

function toColumn(r: Row): ColumnCatalog {
  const generated = r.generated === 's' ? 'stored' : r.generated === 'v' ? 'virtual' : undefined;
  return {
    name: str(r.name),
    type: str(r.type),
    notNull: r.not_null === true,
    default: opt(r.default_expr),
    collation: r.collation_schema === null ? undefined : name(r, 'collation_'),
    statistics: num(r.statistics),
    identity:
      r.identity === '' || r.seq_name === null
        ? undefined
        : {
            generation: r.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT',
            sequence: name(r, 'seq_'),
            start: str(r.seq_start),
            increment: str(r.seq_increment),
            min: str(r.seq_min),
            max: str(r.seq_max),
            cache: str(r.seq_cache),
            cycle: r.seq_cycle === true,
          },
    generated,
    comment: opt(r.comment),
    grants: grants(r.grants),
  };
}

/** `fillfactor=70` as pg_class.reloptions holds it. */
function option(text: string, prefix: string): RelOption {
  const at = text.indexOf('=');
  return { name: `${prefix}${text.slice(0, at)}`, value: text.slice(at + 1) };
}

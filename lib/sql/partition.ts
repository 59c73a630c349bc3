/**
 * SQL text of `partition_replace`: native (a replacement leaf built beside the old one, then DETACH / ATTACH
 * with the old bound) and fallback (delete/insert by partition value). Pure functions over names and catalog
 * text, so `pgferry plan` prints the statements and unit tests read them.
 */
import { createHash } from 'node:crypto';
import { InternalError } from '../errors.ts';
import { MAX_IDENTIFIER_BYTES as MAX_IDENT_BYTES } from '../config/types.ts';
import type { ColumnSpec } from './types.ts';
import { constraintWithIndexSql, indexOn, type IndexConstraint } from './indexes.ts';
import { ident, identList, literal, qualified, type TableName } from './quote.ts';
import type { Grant } from './target-catalog.ts';

/** The partition column: its name, its type in the target and, when it differs, its type in staging. */
export interface PartitionColumn {
  readonly name: string;
  /** `format_type` of the target's column. */
  readonly type: string;
  /** Staged values are cast to `type` first, so they are routed exactly as the INSERT will store them. */
  readonly cast: boolean;
}

/** An index of a leaf partition: a plain index, or the index behind a primary key / unique / exclusion constraint. */
export interface LeafIndex {
  readonly name: string;
  /** `pg_get_indexdef`. */
  readonly definition: string;
  /** Set when the index backs a primary key, unique or exclusion constraint: its name, kind and definition. */
  readonly constraint?: IndexConstraint & { readonly name: string };
  /** Tablespace of the index, when not the database default. */
  readonly tablespace?: string;
}

/** A leaf partition the run replaces, as the catalog describes it (definitions printed under `search_path = pg_catalog`). */
export interface LeafPartition {
  /** pg_class OID, as text. */
  readonly oid: string;
  readonly table: TableName;
  /** The partitioned table it is attached to (the root or a sub-partitioned table). */
  readonly parent: TableName;
  /** `pg_get_expr(relpartbound)`: `FOR VALUES ...` or `DEFAULT`. */
  readonly bound: string;
  /** `pg_get_partition_constraintdef`: the leaf's whole implicit constraint, ancestors' included. */
  readonly constraint: string;
  readonly owner: string;
  readonly unlogged: boolean;
  readonly tablespace?: string;
  /** Storage parameters (`reloptions`). */
  readonly options: readonly { readonly name: string; readonly value: string }[];
  readonly comment?: string;
  /** Table privileges; `null` when the leaf has the default ones (relacl IS NULL). */
  readonly grants: readonly Grant[] | null;
  readonly indexes: readonly LeafIndex[];
}

/** Prefix of the temporary names of one run's replacement leaves: distinct per staged table. */
export function partitionTempPrefix(staging: TableName): string {
  return `pgp_${createHash('sha256').update(`${staging.schema}\u0000${staging.name}`).digest('hex').slice(0, 12)}`;
}

/** The run's table of distinct staged partition values, beside the staging table. */
export function valuesTable(staging: TableName): TableName {
  return { schema: staging.schema, name: checkedName(`${staging.name}_pv`) };
}

/** `FROM <staged rows> AS s`, with the partition column cast to the target's type when the types differ. */
export function stagedSource(staging: TableName, columns: readonly ColumnSpec[], column: PartitionColumn): string {
  if (!column.cast) return `${qualified(staging)} AS s`;
  const projected = columns.map((c) => (c.name === column.name ? `CAST(${ident(c.name)} AS ${column.type}) AS ${ident(c.name)}` : ident(c.name)));
  return `(SELECT ${projected.join(', ')} FROM ${qualified(staging)}) AS s`;
}

/** Number of distinct staged values of the partition column (NULL not counted) and whether a NULL is staged. */
export function distinctValuesSql(staging: TableName, column: string): string {
  const c = ident(column);
  return `SELECT count(DISTINCT ${c})::int8 AS n, coalesce(bool_or(${c} IS NULL), false) AS has_null FROM ${qualified(staging)}`;
}

/**
 * Fallback: delete the target rows whose partition value is staged, then insert the staged rows. The `=`
 * semi-join can use an index on the column; NULL gets its own `IS NULL` statement, only when one is staged.
 */
export function fallbackSql(
  target: TableName,
  staging: TableName,
  columns: readonly ColumnSpec[],
  column: string,
  options: { hasNull: boolean },
): { delete: string[]; insert: string } {
  const t = qualified(target);
  const c = ident(column);
  const del = [`DELETE FROM ${t} WHERE ${c} IN (SELECT s.${c} FROM ${qualified(staging)} AS s)`];
  if (options.hasNull) del.push(`DELETE FROM ${t} WHERE ${c} IS NULL`);
  const list = identList(columns.map((col) => col.name));
  return { delete: del, insert: `INSERT INTO ${t} (${list}) SELECT ${list} FROM ${qualified(staging)}` };
}

/**
 * The run's distinct partition values (in the target's type) in a table of their own, indexed when the
 * partitioning is by range or list, so that finding the leaves that hold them is one index probe per leaf
 * instead of every value against every leaf.
 */
export function valuesTableSql(values: TableName, staging: TableName, column: PartitionColumn, options: { index: boolean }): string[] {
  const c = ident(column.name);
  const v = qualified(values);
  return [
    `DROP TABLE IF EXISTS ${v}`,
    `CREATE UNLOGGED TABLE ${v} AS SELECT DISTINCT CAST(${c} AS ${column.type}) AS ${c} FROM ${qualified(staging)}`,
    ...(options.index ? [`CREATE INDEX ON ${v} (${c})`] : []),
    `ANALYZE ${v}`,
  ];
}

/** `(c1) OR (c2) ...` as a boolean that is false, never NULL, when none holds. */
function anyOf(constraints: readonly string[]): string {
  return constraints.length === 0 ? 'false' : `COALESCE(${constraints.map((c) => `(${c})`).join(' OR ')}, false)`;
}

/**
 * The leaves (by OID) that hold at least one of the run's values: each leaf's partition constraint is
 * evaluated against the values table, whose column name is the one the constraint names. `except`: leave
 * out values that those constraints (leaves already found) accept.
 */
export function leavesHoldingSql(values: TableName, leaves: readonly { oid: string; constraint: string }[], except: readonly string[] = []): string {
  const extra = except.length === 0 ? '' : ` AND NOT ${anyOf(except)}`;
  return leaves
    .map((l) => `SELECT ${oid(l.oid)}::int8 AS leaf WHERE EXISTS (SELECT 1 FROM ${qualified(values)} WHERE (${l.constraint})${extra})`)
    .join('\nUNION ALL\n');
}

/** Values accepted by none of `constraints`: their count and up to five of them as text. */
export function valuesOutsideSql(values: TableName, column: string, constraints: readonly string[]): string {
  const c = ident(column);
  return `SELECT count(*) OVER ()::int8 AS n, CAST(${c} AS text) AS value FROM ${qualified(values)} WHERE NOT ${anyOf(constraints)} ORDER BY 2 NULLS FIRST LIMIT 5`;
}

/** Temporary names of one leaf's replacement: the table, the bound check, and one per index. */
export interface LeafTempNames {
  readonly table: string;
  readonly check: string;
  readonly indexes: readonly string[];
}

/** Temporary names for the `n`-th replaced leaf of a run. */
export function leafTempNames(prefix: string, n: number, leaf: LeafPartition): LeafTempNames {
  return {
    table: checkedName(`${prefix}_${n}`),
    check: checkedName(`${prefix}_${n}_b`),
    indexes: leaf.indexes.map((index, k) => checkedName(`${prefix}_${n}_${index.constraint ? 'c' : 'i'}${k + 1}`)),
  };
}

/** The statements replacing one leaf, in order: `create`, `insert` and `build` make the replacement, `swap` exchanges it for the leaf. */
export interface LeafStatements {
  readonly create: string[];
  readonly insert: string;
  /** Indexes and key constraints, built after the rows are in (faster than maintaining them row by row). */
  readonly build: string[];
  readonly swap: string[];
}

/**
 * Replaces `leaf` by a new table holding the staged rows its constraint accepts. The new table copies the
 * leaf's columns, defaults, NOT NULL and CHECK constraints (LIKE), and gets a CHECK equal to the partition
 * constraint, so ATTACH proves the bound from it instead of scanning the rows; the leaf's indexes and
 * key constraints are built under temporary names that ATTACH matches to the parent's partitioned indexes
 * (so none is built twice) and that take the old names once the leaf is dropped. The helper CHECK is
 * dropped at the end: the partition constraint enforces the same, and the leaf's catalog stays as it was.
 */
export function leafStatements(leaf: LeafPartition, names: LeafTempNames, source: string, columns: readonly ColumnSpec[]): LeafStatements {
  const old = qualified(leaf.table);
  const temp: TableName = { schema: leaf.table.schema, name: names.table };
  const t = qualified(temp);
  const inSchema = (name: string): string => qualified({ schema: leaf.table.schema, name });
  const list = identList(columns.map((c) => c.name));
  const options =
    leaf.options.length > 0 ? ` WITH (${leaf.options.map((o) => `${o.name.split('.').map(ident).join('.')} = ${literal(o.value)}`).join(', ')})` : '';
  const tablespace = leaf.tablespace === undefined ? '' : ` TABLESPACE ${ident(leaf.tablespace)}`;
  const create = [
    `CREATE ${leaf.unlogged ? 'UNLOGGED ' : ''}TABLE ${t} (LIKE ${old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS)${options}${tablespace}`,
    `ALTER TABLE ${t} ADD CONSTRAINT ${ident(names.check)} CHECK (${leaf.constraint})`,
  ];
  const insert = `INSERT INTO ${t} (${list}) SELECT ${identList(
    columns.map((c) => c.name),
    's',
  )} FROM ${source} WHERE (${leaf.constraint})`;
  const build = leaf.indexes
    .map((index, k) => {
      const name = names.indexes[k] as string;
      return index.constraint
        ? constraintWithIndexSql(index, index.constraint, name, temp, 'partition_replace')
        : [indexOn(index, name, temp, 'partition_replace')];
    })
    .flat();
  build.push(`ANALYZE ${t}`);

  const parent = qualified(leaf.parent);
  const swap = [
    `ALTER TABLE ${parent} DETACH PARTITION ${old}`,
    `ALTER TABLE ${parent} ATTACH PARTITION ${t} ${leaf.bound}`,
    `DROP TABLE ${old}`,
    `ALTER TABLE ${t} RENAME TO ${ident(leaf.table.name)}`,
  ];
  leaf.indexes.forEach((index, k) => {
    const name = names.indexes[k] as string;
    // Renaming a constraint renames its index too.
    swap.push(
      index.constraint
        ? `ALTER TABLE ${old} RENAME CONSTRAINT ${ident(name)} TO ${ident(index.constraint.name)}`
        : `ALTER INDEX ${inSchema(name)} RENAME TO ${ident(index.name)}`,
    );
  });
  swap.push(`ALTER TABLE ${old} DROP CONSTRAINT ${ident(names.check)}`);
  swap.push(`ALTER TABLE ${old} OWNER TO ${ident(leaf.owner)}`);
  swap.push(...grantStatements(leaf, old));
  if (leaf.comment !== undefined) swap.push(`COMMENT ON TABLE ${old} IS ${literal(leaf.comment)}`);
  return { create, insert, build, swap };
}

/**
 * Value by value, for the leaves that cannot be replaced whole (a DEFAULT partition holds many values, a
 * foreign partition cannot be detached and rebuilt): delete their rows whose value is staged, then insert,
 * through the root, every staged row that no replaced leaf took.
 */
export function byValueSql(
  root: TableName,
  leaves: readonly TableName[],
  values: TableName,
  column: string,
  replaced: readonly string[],
  source: string,
  columns: readonly ColumnSpec[],
  options: { hasNull: boolean },
): { delete: string[]; insert: string } {
  const c = ident(column);
  const remaining = replaced.length === 0 ? '' : ` WHERE NOT ${anyOf(replaced)}`;
  const del: string[] = [];
  for (const leaf of leaves) {
    const l = qualified(leaf);
    del.push(`DELETE FROM ONLY ${l} WHERE ${c} IN (SELECT v.${c} FROM ${qualified(values)} AS v${remaining})`);
    if (options.hasNull) del.push(`DELETE FROM ONLY ${l} WHERE ${c} IS NULL`);
  }
  const list = identList(columns.map((col) => col.name));
  return {
    delete: del,
    insert: `INSERT INTO ${qualified(root)} (${list}) SELECT ${identList(
      columns.map((col) => col.name),
      's',
    )} FROM ${source}${remaining}`,
  };
}

/** The leaf's privileges on the new table, issued after OWNER TO so the owner is their grantor (as exchange does). */
function grantStatements(leaf: LeafPartition, table: string): string[] {
  if (leaf.grants === null) return [];
  const groups = new Map<string, { grantee: string | null; grantable: boolean; privileges: string[] }>();
  for (const g of [...leaf.grants.filter((x) => x.grantee === leaf.owner), ...leaf.grants.filter((x) => x.grantee !== leaf.owner)]) {
    const key = JSON.stringify([g.grantee, g.grantable]);
    const group = groups.get(key) ?? { grantee: g.grantee, grantable: g.grantable, privileges: [] };
    group.privileges.push(keyword(g.privilege));
    groups.set(key, group);
  }
  return [
    `REVOKE ALL ON TABLE ${table} FROM ${ident(leaf.owner)}`,
    ...[...groups.values()].map(
      (g) =>
        `GRANT ${g.privileges.join(', ')} ON TABLE ${table} TO ${g.grantee === null ? 'PUBLIC' : ident(g.grantee)}${g.grantable ? ' WITH GRANT OPTION' : ''}`,
    ),
  ];
}

/** A privilege name pasted unquoted: letters and single spaces only. */
function keyword(word: string): string {
  if (!/^[A-Za-z]+( [A-Za-z]+)*$/.test(word)) throw new InternalError(`partition_replace: unexpected privilege ${JSON.stringify(word)}`);
  return word;
}

/** An OID pasted into SQL: digits only. */
function oid(value: string): string {
  if (!/^\d+$/.test(value)) throw new InternalError(`partition_replace: expected an OID, got ${JSON.stringify(value)}`);
  return value;
}

function checkedName(name: string): string {
  if (Buffer.byteLength(name) > MAX_IDENT_BYTES) throw new InternalError(`partition_replace: name ${name} is longer than ${MAX_IDENT_BYTES} bytes`);
  return name;
}

/** Writers through the root and partition DDL wait from here on (readers do not), so the leaves stay as read. */
export function partitionLockSql(target: TableName): string {
  return `LOCK TABLE ONLY ${qualified(target)} IN SHARE MODE`;
}

/** Drops the run's table of staged partition values once the leaves are swapped. */
export function dropValuesTableSql(values: TableName): string {
  return `DROP TABLE ${qualified(values)}`;
}

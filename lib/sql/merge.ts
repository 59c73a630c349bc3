/**
 * SQL text of the incremental strategies: merge (delete_insert, upsert), append, replace, and the
 * duplicate checks. Pure functions. Keys are compared in their own types (no ::text casts), with `=`
 * where the target column cannot be NULL (index-friendly) and a NULL-safe form where it can.
 */
import type { ColumnSpec } from './types.ts';
import { insertAllSql } from './load.ts';
import { ident, identList, qualified, typedLiteral, type TableName } from './quote.ts';

/** A key column and whether the target declares it NOT NULL. */
export interface KeyColumn {
  readonly name: string;
  readonly notNull: boolean;
}

/** `t.k = s.k AND ...`, NULL-safe for nullable target columns. */
export function keyMatch(keys: readonly KeyColumn[], t: string, s: string): string {
  return keys
    .map((k) => {
      const a = `${t}.${ident(k.name)}`;
      const b = `${s}.${ident(k.name)}`;
      return k.notNull ? `${a} = ${b}` : `(${a} = ${b} OR (${a} IS NULL AND ${b} IS NULL))`;
    })
    .join(' AND ');
}

/** Beyond this many nullable key columns the anti-join is written as one NULL-safe OR form (2^n hashable ones otherwise). */
const MAX_EXPANDED_NULLABLE_KEYS = 4;

/**
 * "No row of `table` (alias `inner`) has the key of the row `outer`", as one or more NOT EXISTS. An OR in a
 * join condition cannot be hashed, so the NULL-safe match over nullable key columns would make a nested
 * loop. It is split instead into one NOT EXISTS per pattern of NULLs over the nullable key columns
 * (disjoint cases whose union is the NULL-safe match), each a hash anti-join. With more than four nullable
 * key columns, the plain OR form.
 */
export function notExistsKeySql(keys: readonly KeyColumn[], table: TableName, outer: string, inner: string): string {
  const from = `${qualified(table)} AS ${inner}`;
  const nullable = keys.filter((k) => !k.notNull);
  if (nullable.length === 0 || nullable.length > MAX_EXPANDED_NULLABLE_KEYS) {
    return `NOT EXISTS (SELECT 1 FROM ${from} WHERE ${keyMatch(keys, outer, inner)})`;
  }
  const cases: string[] = [];
  for (let mask = 0; mask < 1 << nullable.length; mask += 1) {
    const isNull = new Set(nullable.filter((_, i) => (mask & (1 << i)) !== 0).map((k) => k.name));
    const conditions = keys.map((k) => {
      const a = `${outer}.${ident(k.name)}`;
      const b = `${inner}.${ident(k.name)}`;
      return isNull.has(k.name) ? `${b} IS NULL AND ${a} IS NULL` : `${a} = ${b}`;
    });
    cases.push(`NOT EXISTS (SELECT 1 FROM ${from} WHERE ${conditions.join(' AND ')})`);
  }
  return cases.join('\n  AND ');
}

/** One duplicated key of staging, if any (NULLs group together, matching the NULL-safe key match). */
export function findDuplicateKeySql(staging: TableName, keys: readonly string[]): string {
  const list = identList(keys);
  return `SELECT ${keys.map((k) => `${ident(k)}::text AS ${ident(k)}`).join(', ')}, count(*) AS n FROM ${qualified(staging)} GROUP BY ${list} HAVING count(*) > 1 LIMIT 1`;
}

/**
 * Deletes from staging every row but one per key: the greatest cursor value, then the latest xmin, then
 * the greatest row text, so the same row survives on every rerun.
 */
export function keepLastSql(staging: TableName, keys: readonly string[], order: { cursor?: string; xmin?: boolean }): string {
  const by = [
    ...(order.cursor ? [`s.${ident(order.cursor)} DESC NULLS LAST`] : []),
    ...(order.xmin ? [`s.${ident(XMIN_COLUMN)} DESC`] : []),
    's::text DESC',
  ].join(', ');
  return `DELETE FROM ${qualified(staging)} WHERE ctid IN (SELECT ctid FROM (SELECT s.ctid, row_number() OVER (PARTITION BY ${identList(keys, 's')} ORDER BY ${by}) AS rn FROM ${qualified(staging)} AS s) d WHERE d.rn > 1)`;
}

/** Name of the staged column holding the source row's xmin (keep_last tie-break). */
export const XMIN_COLUMN = 'pgferry_xmin';

/** Most staged keys for which a single-column key is deleted through `= ANY (ARRAY(...))` rather than a join. */
export const KEY_ARRAY_LIMIT = 1_000_000;

/**
 * `incremental_merge` / `delete_insert`: delete target rows whose key is staged, insert the staged rows.
 * A single-column key with a moderate number of staged rows is deleted by `= ANY (ARRAY(...))`, which the
 * planner always runs as index lookups (a join over a few % of a large table tends to seq-scan it).
 */
export function deleteInsertSql(
  target: TableName,
  staging: TableName,
  columns: readonly ColumnSpec[],
  keys: readonly KeyColumn[],
  options: { stagedRows?: number } = {},
): string[] {
  const keyList = identList(keys.map((k) => k.name));
  const insert = insertAllSql(
    target,
    staging,
    columns,
    keys.map((k) => k.name),
  );
  const nullable = keys.filter((k) => !k.notNull);
  const single = keys.length === 1 && keys[0] !== undefined && (options.stagedRows ?? Infinity) <= KEY_ARRAY_LIMIT ? keys[0] : undefined;
  if (single) {
    const k = ident(single.name);
    const statements = [
      `DELETE FROM ${qualified(target)} AS t WHERE t.${k} = ANY (ARRAY(SELECT DISTINCT ${k} FROM ${qualified(staging)} WHERE ${k} IS NOT NULL))`,
    ];
    if (!single.notNull)
      statements.push(`DELETE FROM ${qualified(target)} AS t WHERE t.${k} IS NULL AND EXISTS (SELECT 1 FROM ${qualified(staging)} AS s WHERE s.${k} IS NULL)`);
    return [...statements, insert];
  }
  if (nullable.length === 0) {
    return [
      `DELETE FROM ${qualified(target)} AS t USING (SELECT DISTINCT ${keyList} FROM ${qualified(staging)}) AS s WHERE ${keyMatch(keys, 't', 's')}`,
      insert,
    ];
  }
  // Keys without NULLs match with `=` (a hash or index join); the rare staged keys holding a NULL take the NULL-safe form.
  const allSet = nullable.map((k) => `${ident(k.name)} IS NOT NULL`).join(' AND ');
  const strict = keys.map((k) => ({ name: k.name, notNull: true }));
  return [
    `DELETE FROM ${qualified(target)} AS t USING (SELECT DISTINCT ${keyList} FROM ${qualified(staging)} WHERE ${allSet}) AS s WHERE ${keyMatch(strict, 't', 's')}`,
    `DELETE FROM ${qualified(target)} AS t USING (SELECT DISTINCT ${keyList} FROM ${qualified(staging)} WHERE NOT (${allSet})) AS s WHERE ${keyMatch(keys, 't', 's')}`,
    insert,
  ];
}

/**
 * `incremental_merge` / `upsert`: INSERT ... ON CONFLICT (key) DO UPDATE of every other staged column, and of
 * `unstaged` target columns to what INSERT proposed for them (their defaults). DO NOTHING when nothing is left to set.
 */
export function upsertSql(
  target: TableName,
  staging: TableName,
  columns: readonly ColumnSpec[],
  keys: readonly string[],
  unstaged: readonly string[] = [],
): string {
  const sets = [...columns.map((c) => c.name).filter((name) => !keys.includes(name)), ...unstaged].map((name) => `${ident(name)} = EXCLUDED.${ident(name)}`);
  const action = sets.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${sets.join(', ')}`;
  return `${insertAllSql(target, staging, columns, keys)} ON CONFLICT (${identList(keys)}) ${action}`;
}

/**
 * `delete_insert` replacing rows in place (see lib/sink/in-place-merge.ts): the upsert, returning how many rows
 * it wrote (`rows`) and how many of them replaced a target row (`replaced`). PostgreSQL 18 says so in
 * `RETURNING old`; before it, a row that ON CONFLICT updated carries the updating transaction in its xmax
 * (it locked the row first), an inserted one carries none. With DO NOTHING, only inserted rows are returned.
 */
export function replaceInPlaceSql(
  target: TableName,
  staging: TableName,
  columns: readonly ColumnSpec[],
  keys: readonly string[],
  unstaged: readonly string[],
  options: { returningOld: boolean },
): string {
  const key = ident(keys[0] ?? '');
  const replaced = options.returningOld ? `old.${key} IS NOT NULL` : `xmax::text <> '0'`;
  return `WITH merged AS (${upsertSql(target, staging, columns, keys, unstaged)} RETURNING ${replaced} AS replaced)
SELECT count(*) AS rows, count(*) FILTER (WHERE replaced) AS replaced FROM merged`;
}

/** `incremental_append` with `only_new_rows`: insert staged rows whose key is not in the target. */
export function insertNewKeysSql(target: TableName, staging: TableName, columns: readonly ColumnSpec[], keys: readonly KeyColumn[]): string {
  const list = identList(columns.map((c) => c.name));
  return `INSERT INTO ${qualified(target)} (${list}) SELECT ${identList(
    columns.map((c) => c.name),
    's',
  )} FROM ${qualified(staging)} AS s WHERE ${notExistsKeySql(keys, target, 's', 't')}`;
}

/** The part of an append window that an earlier run may already have loaded: cursor at or below the old cursor, or NULL. */
export interface AppendOverlap {
  readonly cursor: ColumnSpec;
  /** Old cursor value (the previous run's upper bound). */
  readonly before: string;
  /** This run's lower bound (old cursor minus lookback). */
  readonly lower: string;
}

/**
 * Plain `incremental_append`: every staged row, except that rows in the overlap with the previous window
 * are inserted only if not already loaded: by key when there is a unique_key, else as whole rows
 * (a multiset difference on the rows' text in the target's types, so duplicates in the source survive).
 */
export function appendSql(
  target: TableName,
  staging: TableName,
  columns: readonly ColumnSpec[],
  targetTypes: ReadonlyMap<string, string>,
  overlap: AppendOverlap | undefined,
  keys: readonly KeyColumn[] | undefined,
): string {
  const list = identList(columns.map((c) => c.name));
  const insert = `INSERT INTO ${qualified(target)} (${list})`;
  if (!overlap) return `${insert} SELECT ${list} FROM ${qualified(staging)}`;
  const col = ident(overlap.cursor.name);
  const inOverlap = (alias: string): string => `(${alias}.${col} IS NULL OR ${alias}.${col} <= ${typedLiteral(overlap.before, overlap.cursor.type)})`;
  const sCols = identList(
    columns.map((c) => c.name),
    's',
  );
  if (keys && keys.length > 0) {
    return `${insert} SELECT ${sCols} FROM ${qualified(staging)} AS s WHERE NOT (${inOverlap('s')} AND EXISTS (SELECT 1 FROM ${qualified(target)} AS t WHERE ${keyMatch(keys, 't', 's')}))`;
  }
  const rowText = (alias: string, cast: boolean): string =>
    `ROW(${columns.map((c) => `${alias}.${ident(c.name)}${cast ? `::${targetTypes.get(c.name) ?? c.type}` : ''}`).join(', ')})::text`;
  const targetZone = `(t.${col} IS NULL OR (t.${col} >= ${typedLiteral(overlap.lower, overlap.cursor.type)} AND t.${col} <= ${typedLiteral(overlap.before, overlap.cursor.type)}))`;
  return `${insert}
SELECT ${sCols} FROM ${qualified(staging)} AS s WHERE NOT ${inOverlap('s')}
UNION ALL
SELECT ${identList(
    columns.map((c) => c.name),
    'o',
  )} FROM (
  SELECT ${sCols}, ${rowText('s', true)} AS pgferry_row, row_number() OVER (PARTITION BY ${rowText('s', true)}) AS pgferry_n
  FROM ${qualified(staging)} AS s WHERE ${inOverlap('s')}
) AS o LEFT JOIN (
  SELECT ${rowText('t', false)} AS pgferry_row, count(*) AS pgferry_n FROM ${qualified(target)} AS t WHERE ${targetZone} GROUP BY 1
) AS e ON e.pgferry_row = o.pgferry_row
WHERE o.pgferry_n > coalesce(e.pgferry_n, 0)`;
}

/** `replace`: delete the slice named by the strategy's raw predicate, insert the staged rows. */
export function replaceSql(target: TableName, staging: TableName, columns: readonly ColumnSpec[], predicate: string): string[] {
  return [`DELETE FROM ${qualified(target)} WHERE (${predicate})`, insertAllSql(target, staging, columns)];
}

/** A unique index on the key, so merges are index lookups and upsert has its conflict target. */
export function uniqueKeyIndexSql(target: TableName, keys: readonly string[], nullsNotDistinct: boolean): string {
  return `CREATE UNIQUE INDEX ON ${qualified(target)} (${identList(keys)})${nullsNotDistinct ? ' NULLS NOT DISTINCT' : ''}`;
}

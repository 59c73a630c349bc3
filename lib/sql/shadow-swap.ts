/**
 * SQL text of `incremental_merge` / `shadow_swap`: the merged table (target rows whose key is not staged,
 * plus every staged row) is built beside the target, then exchanged for it (lib/sql/exchange.ts).
 * Pure functions.
 */
import { InternalError } from '../errors.ts';
import { MAX_IDENTIFIER_BYTES as MAX_IDENT_BYTES } from '../config/types.ts';
import type { ColumnSpec } from './types.ts';
import { createTableSql } from './ddl.ts';
import { notExistsKeySql, type KeyColumn } from './merge.ts';
import { identList, qualified, type TableName } from './quote.ts';

/** The NULL-safe key match, as merge uses it. */
export { keyMatch as shadowKeyMatch } from './merge.ts';

/** A key column and whether the target declares it NOT NULL. */
export type ShadowKey = KeyColumn;

/** The shadow table of a run: beside the staging table, `<staging name>_swap`. */
export function shadowTable(staging: TableName): TableName {
  const name = `${staging.name}_swap`;
  if (Buffer.byteLength(name) > MAX_IDENT_BYTES) throw new InternalError(`shadow_swap: shadow table name ${name} is longer than ${MAX_IDENT_BYTES} bytes`);
  return { schema: staging.schema, name };
}

/** Creates the (empty) shadow table with the target's columns and types. */
export function createShadowSql(shadow: TableName, columns: readonly ColumnSpec[], options: { unlogged: boolean }): string[] {
  return [`DROP TABLE IF EXISTS ${qualified(shadow)}`, createTableSql(shadow, columns, { unlogged: options.unlogged })];
}

/** "No staged row has this target row's key" (see notExistsKeySql). */
export function notStagedSql(keys: readonly ShadowKey[], staging: TableName, t = 't', s = 's'): string {
  return notExistsKeySql(keys, staging, t, s);
}

/** Copies into the shadow every target row whose key is not staged. */
export function keepTargetRowsSql(
  shadow: TableName,
  target: TableName,
  staging: TableName,
  columns: readonly ColumnSpec[],
  keys: readonly ShadowKey[],
): string {
  const names = columns.map((c) => c.name);
  return `INSERT INTO ${qualified(shadow)} (${identList(names)}) SELECT ${identList(names, 't')} FROM ${qualified(target)} AS t\nWHERE ${notStagedSql(keys, staging)}`;
}

/** Copies every staged row into the shadow (the INSERT's assignment casts bridge staged and target types). */
export function insertStagedSql(shadow: TableName, staging: TableName, columns: readonly ColumnSpec[]): string {
  const list = identList(columns.map((c) => c.name));
  return `INSERT INTO ${qualified(shadow)} (${list}) SELECT ${list} FROM ${qualified(staging)}`;
}

/**
 * `LOCK TABLE t IN SHARE MODE`: writers wait from the moment the target's rows are copied until the swap
 * commits, so no row written meanwhile is lost with the old table; readers go on until the swap.
 */
export function shadowLockSql(target: TableName): string {
  return `LOCK TABLE ${qualified(target)} IN SHARE MODE`;
}

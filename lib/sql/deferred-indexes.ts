/**
 * SQL text for loading a truncated table without maintaining its indexes row by row: the indexes (and the
 * primary key, unique and exclusion constraints they back) are dropped after TRUNCATE and built again after
 * the INSERT, in the same transaction, under the same names, with their comments, tablespaces, storage
 * parameters, replica identity and CLUSTER ON mark. Pure functions over what {@link DeferredIndex} describes.
 */
import { constraintWithIndexSql, indexOn, type IndexConstraint } from './indexes.ts';
import { ident, literal, qualified, type TableName } from './quote.ts';

export type { IndexConstraint } from './indexes.ts';

/** An index of the target that is dropped before the load and built again after it. */
export interface DeferredIndex {
  readonly name: string;
  /** `pg_get_indexdef`. */
  readonly definition: string;
  /** Tablespace, when not the database default (pg_get_indexdef leaves it out). */
  readonly tablespace?: string;
  /** Comment on the index itself. */
  readonly comment?: string;
  /** The primary key, unique or exclusion constraint the index backs (same name as the index). */
  readonly constraint?: IndexConstraint;
  /** `REPLICA IDENTITY USING INDEX` names it. */
  readonly replicaIdentity: boolean;
  /** `CLUSTER ON` names it. */
  readonly clustered: boolean;
}

/** Drops the indexes: constraints through one ALTER TABLE, plain indexes through one DROP INDEX. */
export function dropIndexesSql(target: TableName, indexes: readonly DeferredIndex[]): string[] {
  const constraints = indexes.filter((i) => i.constraint);
  const plain = indexes.filter((i) => !i.constraint);
  const out: string[] = [];
  if (constraints.length > 0) out.push(`ALTER TABLE ${qualified(target)} ${constraints.map((c) => `DROP CONSTRAINT ${ident(c.name)}`).join(', ')}`);
  if (plain.length > 0) out.push(`DROP INDEX ${plain.map((i) => qualified({ schema: target.schema, name: i.name })).join(', ')}`);
  return out;
}

/** Builds the indexes again (constraints first, as a table's dump would), then their marks and comments. */
export function rebuildIndexesSql(target: TableName, indexes: readonly DeferredIndex[]): string[] {
  const t = qualified(target);
  const index = (name: string): string => qualified({ schema: target.schema, name });
  const out: string[] = [];
  for (const i of indexes) if (i.constraint) out.push(...constraintWithIndexSql(i, i.constraint, i.name, target, 'truncate_insert'));
  for (const i of indexes) if (!i.constraint) out.push(indexOn(i, i.name, target, 'truncate_insert'));
  const replica = indexes.find((i) => i.replicaIdentity);
  if (replica) out.push(`ALTER TABLE ${t} REPLICA IDENTITY USING INDEX ${ident(replica.name)}`);
  const clustered = indexes.find((i) => i.clustered);
  if (clustered) out.push(`ALTER TABLE ${t} CLUSTER ON ${ident(clustered.name)}`);
  for (const i of indexes) {
    if (i.constraint?.comment !== undefined) out.push(`COMMENT ON CONSTRAINT ${ident(i.name)} ON ${t} IS ${literal(i.constraint.comment)}`);
    if (i.comment !== undefined) out.push(`COMMENT ON INDEX ${index(i.name)} IS ${literal(i.comment)}`);
  }
  return out;
}

/** `maintenance_work_mem` of an apply transaction that builds indexes, when the server's is lower. */
export const INDEX_BUILD_MEMORY_BYTES = 256 * 1024 * 1024;

/**
 * Raises `maintenance_work_mem` for the rest of the transaction to `bytes` when the session has less, so
 * index builds sort in memory; a server configured higher keeps its setting.
 */
export function maintenanceWorkMemSql(bytes: number): string {
  const kb = Math.trunc(bytes / 1024);
  return `SELECT pg_catalog.set_config('maintenance_work_mem', '${kb}kB', true) WHERE pg_catalog.pg_size_bytes(pg_catalog.current_setting('maintenance_work_mem')) < ${kb * 1024}`;
}

/**
 * What goes around the INSERT of a load into an emptied, locked table: the indexes dropped before it, then
 * (with `maintenance_work_mem` raised) built again after it.
 */
export function deferredLoadSql(target: TableName, indexes: readonly DeferredIndex[]): { before: string[]; after: string[] } {
  return {
    before: dropIndexesSql(target, indexes),
    after: indexes.length > 0 ? [maintenanceWorkMemSql(INDEX_BUILD_MEMORY_BYTES), ...rebuildIndexesSql(target, indexes)] : [],
  };
}

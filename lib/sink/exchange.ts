/**
 * `exchange`: a loaded staging table becomes the target by rename, inside the caller's transaction, with
 * what a DBA attached to the old target carried over. Refused before any change when something depends on
 * the target that a rename would break or that exchange cannot carry (views, foreign keys, partitioning...).
 */
import type pg from 'pg';
import { inTransaction, query, type Db } from '../db/index.ts';
import { InternalError, UnsafeTargetError } from '../errors.ts';
import { INDEX_BUILD_MEMORY_BYTES, maintenanceWorkMemSql } from '../sql/deferred-indexes.ts';
import { adoptPrebuilt, prebuildSql, prebuiltIndexName } from '../sql/exchange-prebuild.ts';
import { exchangeStatements, exchangeTempPrefix, guardLockSql } from '../sql/exchange.ts';
import type { ObjectName, TargetCatalog } from '../sql/target-catalog.ts';
import { ident, qualified, type TableName } from '../sql/quote.ts';
import type { StagedNotNull } from '../sql/types.ts';
import { runStatements } from './strategies/statements.ts';
import type { Step } from './strategies/types.ts';
import { readPrebuiltIndexes, readRelationExists } from './catalog/index.ts';
import { readTargetCatalog } from './target-catalog.ts';

export { readTargetCatalog } from './target-catalog.ts';

/** Options of {@link exchangeRefusal}, so `shadow_swap` can word its own refusal. */
export interface RefusalOptions {
  /** The strategy named in the message. @default 'exchange' */
  readonly strategy?: string;
  /** The setting that avoids the refusal. @default 'overwrite_type: truncate_insert' */
  readonly alternative?: string;
}

const RELKINDS: Record<string, string> = { v: 'a view', m: 'a materialized view', f: 'a foreign table', S: 'a sequence', i: 'an index' };

/** Why the target cannot be replaced by rename, or undefined when it can. */
export function exchangeRefusal(catalog: TargetCatalog, options: RefusalOptions = {}): string | undefined {
  const strategy = options.strategy ?? 'exchange';
  const names = (list: readonly ObjectName[]): string => list.map(qualified).join(', ');
  const reasons: string[] = [];
  if (catalog.partitioned) reasons.push('it is a partitioned table');
  else if (catalog.relkind !== 'r') reasons.push(`it is ${RELKINDS[catalog.relkind] ?? `a relation of kind ${catalog.relkind}`}, not a table`);
  if (catalog.partitionOf) reasons.push(`it is a partition of ${qualified(catalog.partitionOf)}`);
  if (catalog.inherits.length > 0) reasons.push(`it inherits from ${names(catalog.inherits)}`);
  if (catalog.inheritedBy.length > 0) reasons.push(`${names(catalog.inheritedBy)} inherit from it or are its partitions`);
  if (catalog.ofType !== undefined) reasons.push(`it is a typed table (OF ${catalog.ofType})`);
  if (catalog.dependentViews.length > 0) {
    const views = catalog.dependentViews.map((v) => `${v.materialized ? 'materialized view' : 'view'} ${qualified(v.view)}`);
    reasons.push(`${views.join(', ')} depend${views.length === 1 ? 's' : ''} on it`);
  }
  for (const fk of catalog.referencingForeignKeys) reasons.push(`foreign key ${ident(fk.name)} of table ${qualified(fk.table)} references it`);
  if (catalog.publications.length > 0) {
    reasons.push(`it is published by ${catalog.publications.map(ident).join(', ')}, whose subscribers a rename would leave without the new rows`);
  }
  if (catalog.policies.length > 0) {
    reasons.push(`it has row-level security policies ${catalog.policies.map(ident).join(', ')}, which ${strategy} does not carry over yet`);
  }
  if (catalog.rules.length > 0) reasons.push(`it has rules ${catalog.rules.map(ident).join(', ')}, which ${strategy} does not carry over`);
  for (const column of catalog.columns.filter((c) => c.generated)) {
    reasons.push(`column ${ident(column.name)} is a generated column, which a staged table cannot reproduce`);
  }
  if (catalog.otherDependents.length > 0) reasons.push(`other objects depend on it: ${catalog.otherDependents.join(', ')}`);
  if (reasons.length === 0) return undefined;
  const alternative = options.alternative ?? 'overwrite_type: truncate_insert';
  return (
    `${strategy} cannot replace ${qualified(catalog.table)}: ${reasons.join('; ')}. ` +
    `Drop or detach what is listed before the run and re-create it afterwards, or use ${alternative}, which keeps the table.`
  );
}

/**
 * Throws UnsafeTargetError when exchange would refuse the target; a missing target is fine (it will be created).
 * Returns the catalog it read (undefined for a missing target).
 */
export async function checkExchangeAllowed(db: Db, target: TableName, options: RefusalOptions = {}): Promise<TargetCatalog | undefined> {
  const catalog = await readTargetCatalog(db, target);
  const reason = catalog ? exchangeRefusal(catalog, options) : undefined;
  if (reason !== undefined) throw new UnsafeTargetError(reason);
  return catalog;
}

/** Options of {@link exchangeTable}. */
export interface ExchangeOptions {
  /** `lock_timeout` while exchange locks the target (and the tables its foreign keys reference). @default the session's */
  readonly lockTimeoutMs?: number;
  /** Prefix of temporary index, constraint and sequence names. @default exchangeTempPrefix(staging) */
  readonly tempPrefix?: string;
  /** How a refusal is worded. @default exchange's */
  readonly refusal?: RefusalOptions;
  /** The NOT NULLs the staged table was created with (see stagedNotNullFor). @default none */
  readonly stagedNotNull?: readonly StagedNotNull[];
}

/**
 * Replaces `target` by `staging` (same column names and types, loaded, no constraints or indexes) inside the
 * caller's open transaction: builds the target's indexes, constraints, triggers... on the staged table under
 * temporary names, then locks the target, drops it and renames everything into place. The target stays
 * readable and writable until that lock; DDL on it waits from the start, so the catalog read stays true.
 */
export async function exchangeTable(db: Db, target: TableName, staging: TableName, options: ExchangeOptions = {}): Promise<void> {
  await runStatements(db, exchangeSteps(db, target, staging, options));
}

/**
 * The steps of {@link exchangeTable}. Describing (`pgferry plan`), nothing runs, and with `builtAhead` every index
 * buildable ahead of the transaction counts as built there (as when every build ahead succeeded).
 */
export async function* exchangeSteps(
  db: Db,
  target: TableName,
  staging: TableName,
  options: ExchangeOptions & { readonly describing?: boolean; readonly builtAhead?: boolean } = {},
): AsyncGenerator<Step, void, pg.QueryResult | undefined> {
  const what = `exchanging ${qualified(target)}`;
  if (!options.describing) await requireTransaction(db, what);
  const before = (
    await query<{ path: string; timeout: string }>(db, "SELECT current_setting('search_path') AS path, current_setting('lock_timeout') AS timeout", what)
  ).rows[0];
  // Definitions were printed with search_path = pg_catalog; they mean the same objects only under it.
  yield* setLocal('pg_catalog', options.lockTimeoutMs === undefined ? undefined : `${Math.max(1, Math.trunc(options.lockTimeoutMs))}ms`, what);
  if (await readRelationExists(db, target)) yield { sql: guardLockSql(target), what };
  const catalog = await readTargetCatalog(db, target);
  const reason = catalog ? exchangeRefusal(catalog, options.refusal) : undefined;
  if (reason !== undefined) throw new UnsafeTargetError(reason);
  const prefix = options.tempPrefix ?? exchangeTempPrefix(staging);
  const statements = exchangeStatements(catalog, target, staging, prefix, options.stagedNotNull ?? []);
  const built = !options.describing
    ? await readPrebuiltIndexes(db, staging, prefix)
    : options.builtAhead
      ? statements.prebuildable.map((build) => prebuiltIndexName(prefix, build))
      : [];
  const prepare = adoptPrebuilt(statements, prefix, staging, built);
  if (catalog) yield { sql: maintenanceWorkMemSql(INDEX_BUILD_MEMORY_BYTES), what };
  yield { batch: prepare, what: `${what}: building on the staged table` };
  yield { batch: statements.swap, what: `${what}: swapping the staged table in` };
  yield* setLocal(before?.path ?? 'pg_catalog', options.lockTimeoutMs === undefined ? undefined : before?.timeout, what);
}

/**
 * The index builds of an exchange of `target` by `staging` that can run before the apply transaction, on other
 * connections (see prebuildSql); exchangeTable adopts what they built when the target's catalog still asks
 * for it. None when there is no target or exchange would refuse it. Reads the catalog without locking.
 */
export async function exchangePrebuildSql(db: Db, target: TableName, staging: TableName, stagedNotNull: readonly StagedNotNull[]): Promise<string[]> {
  const catalog = await readTargetCatalog(db, target);
  if (!catalog || exchangeRefusal(catalog) !== undefined) return [];
  const prefix = exchangeTempPrefix(staging);
  return exchangeStatements(catalog, target, staging, prefix, stagedNotNull).prebuildable.map((build) => prebuildSql(prefix, build));
}

/** Fails unless a transaction is open: outside one, a failure between DROP and RENAME would lose the target. */
async function requireTransaction(db: Db, what: string): Promise<void> {
  if (!inTransaction(db)) throw new InternalError(`${what}: exchangeTable must run inside the caller's transaction`);
}

function* setLocal(searchPath: string, lockTimeout: string | undefined, what: string): Generator<Step, void, unknown> {
  yield { sql: { text: "SELECT pg_catalog.set_config('search_path', $1, true)", values: [searchPath] }, what };
  if (lockTimeout !== undefined) yield { sql: { text: "SELECT pg_catalog.set_config('lock_timeout', $1, true)", values: [lockTimeout] }, what };
}

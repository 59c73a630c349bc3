/** `incremental_append`, `incremental_merge` (delete_insert, upsert) and `replace`. */
import type { PipelineConfig } from '../../config/index.ts';
import { query, type Db } from '../../db/index.ts';
import { serverVersion } from '../../db/server.ts';
import { InternalError, UnsafeTargetError } from '../../errors.ts';
import { createTableSql } from '../../sql/ddl.ts';
import { insertAllSql } from '../../sql/load.ts';
import {
  appendSql,
  deleteInsertSql,
  insertNewKeysSql,
  KEY_ARRAY_LIMIT,
  replaceInPlaceSql,
  replaceSql,
  uniqueKeyIndexSql,
  upsertSql,
  type AppendOverlap,
  type KeyColumn,
} from '../../sql/merge.ts';
import { identList, qualified, type TableName } from '../../sql/quote.ts';
import type { RunPlan } from '../../state/types.ts';
import { readHasUniqueIndexOn, readInsertedInTransaction, readTableExists } from '../catalog/index.ts';
import { describeEmptyTarget, loadEmptyTarget } from '../empty-target.ts';
import { planInPlaceMerge } from '../in-place-merge.ts';
import { analyzeStaging } from '../staging.ts';
import type { Strategy, StrategyContext, StrategyResult } from './types.ts';

/** The strategy's unique_key, if it has one. */
export function uniqueKey(config: PipelineConfig): readonly string[] | undefined {
  const s = config.sink.strategy;
  if (s.mode === 'incremental_merge') return s.unique_key;
  if (s.mode === 'incremental_append') return s.unique_key;
  return undefined;
}

/** Key columns with NOT NULL as the target declares them (a target created by the run: as staged, nullable). */
function keyColumns(plan: RunPlan, keys: readonly string[]): KeyColumn[] {
  const target = new Map((plan.targetColumns ?? []).map((c) => [c.name, c.notNull]));
  return keys.map((name) => ({ name, notNull: target.get(name) ?? false }));
}

/**
 * A missing target (create_table) is created, every staged row inserted, and then the unique index on the
 * key built, when there is one. Undefined when the target exists.
 */
async function loadNewTarget(ctx: StrategyContext, keys: readonly string[] | undefined): Promise<StrategyResult | undefined> {
  const target = ctx.config.sink.table;
  if (await readTableExists(ctx.db, target)) return undefined;
  const statements = await newTargetStatements(ctx.db, ctx.config, ctx.plan, ctx.staging, keys);
  await query(ctx.db, statements.create, 'creating the target');
  const inserted = await query(ctx.db, statements.insert, 'inserting into the new target');
  if (statements.index) await query(ctx.db, statements.index, 'creating the target key index');
  return { rowsInserted: inserted.rowCount ?? 0, rowsDeleted: 0 };
}

async function newTargetStatements(
  db: Db,
  config: PipelineConfig,
  plan: RunPlan,
  staging: TableName,
  keys: readonly string[] | undefined,
): Promise<{ create: string; insert: string; index?: string }> {
  const target = config.sink.table;
  const statements = { create: createTableSql(target, plan.columns), insert: insertAllSql(target, staging, plan.columns) };
  if (!keys || keys.length === 0) return statements;
  return { ...statements, index: uniqueKeyIndexSql(target, keys, (await serverVersion(db)) >= 150000) };
}

/** A new target (created, loaded, indexed) or an empty one (see ../empty-target.ts), or undefined: the strategy's own statements. */
async function loadNewOrEmptyTarget(ctx: StrategyContext, keys: readonly string[] | undefined): Promise<StrategyResult | undefined> {
  return (
    (await loadNewTarget(ctx, keys)) ??
    (await loadEmptyTarget({
      db: ctx.db,
      target: ctx.config.sink.table,
      staging: ctx.staging,
      columns: ctx.plan.columns,
      stagedRows: ctx.stagedRows,
      log: ctx.log,
    }))
  );
}

/** What `pgferry plan` prints for a new or an empty target, or undefined: the strategy's own statements. */
async function describeNewOrEmptyTarget(
  db: Db,
  config: PipelineConfig,
  plan: RunPlan,
  staging: TableName,
  keys: readonly string[] | undefined,
): Promise<string[] | undefined> {
  if (!plan.targetExists) {
    const s = await newTargetStatements(db, config, plan, staging, keys);
    return [s.create, s.insert, ...(s.index ? [s.index] : [])];
  }
  return describeEmptyTarget(db, config.sink.table, staging, plan.columns);
}

/** Refuses upsert into an existing target without a unique index on exactly the key columns. */
async function checkUpsertIndex(db: Db, config: PipelineConfig, plan: RunPlan): Promise<void> {
  const keys = uniqueKey(config) ?? [];
  if (!plan.targetExists) return;
  const ok = await readHasUniqueIndexOn(db, config.sink.table, keys);
  if (!ok) {
    throw new UnsafeTargetError(
      `merge_policy upsert needs a unique index on (${identList(keys)}) of ${qualified(config.sink.table)}; create one (CREATE UNIQUE INDEX ON ${qualified(config.sink.table)} (${identList(keys)})) or use merge_policy: delete_insert`,
    );
  }
}

/**
 * Whether delete_insert's DELETE joins staging (and wants its statistics): a single-column key of at most
 * KEY_ARRAY_LIMIT staged rows is deleted by index lookups of `= ANY (ARRAY(...))` instead.
 */
export function deleteJoinsStaging(keys: readonly string[], stagedRows: number): boolean {
  return keys.length !== 1 || stagedRows > KEY_ARRAY_LIMIT;
}

/**
 * `incremental_merge` / `delete_insert`. Where the result cannot differ (see ../in-place-merge.ts), rows are
 * replaced in place by one INSERT ... ON CONFLICT (key) DO UPDATE; rowsDeleted then counts the rows it updated.
 */
export const deleteInsert: Strategy = {
  // Analyzed in apply, and only before DELETE joins staging: a new or empty target and the in-place merge only scan it.
  needsStagingStatistics: () => false,
  async apply(ctx) {
    const keys = uniqueKey(ctx.config) ?? [];
    const loaded = await loadNewOrEmptyTarget(ctx, keys);
    if (loaded) return loaded;
    const target = ctx.config.sink.table;
    const inPlace = await planInPlaceMerge(ctx.db, target, keys, ctx.plan.columns);
    if (inPlace.merge) {
      const { unstaged, returningOld, countFromStatistics } = inPlace.merge;
      ctx.log.info('delete_insert: replacing rows in place (INSERT ... ON CONFLICT DO UPDATE)', { unstaged });
      let inserted: number;
      if (countFromStatistics) {
        const before = await readInsertedInTransaction(ctx.db, target);
        await query(ctx.db, upsertSql(target, ctx.staging, ctx.plan.columns, keys, unstaged), 'replacing staged rows in place');
        inserted = (await readInsertedInTransaction(ctx.db, target)) - before;
      } else {
        const sql = replaceInPlaceSql(target, ctx.staging, ctx.plan.columns, keys, unstaged, { returningOld });
        const result = await query<{ rows: string; replaced: string }>(ctx.db, sql, 'replacing staged rows in place');
        // With only key columns to set, DO NOTHING returns just the inserted rows: the others already equal staging.
        inserted = Number(result.rows[0]?.rows ?? 0) - Number(result.rows[0]?.replaced ?? 0);
      }
      // Every staged row ends up in the target; the ones that were not inserted anew replaced a row.
      return { rowsInserted: ctx.stagedRows, rowsDeleted: ctx.stagedRows - inserted };
    }
    ctx.log.info('delete_insert: deleting and inserting', { reason: inPlace.blocker });
    if (!ctx.stagingAnalyzed && deleteJoinsStaging(keys, ctx.stagedRows)) await analyzeStaging(ctx.db, ctx.staging);
    const statements = deleteInsertSql(target, ctx.staging, ctx.plan.columns, keyColumns(ctx.plan, keys), { stagedRows: ctx.stagedRows });
    let rowsDeleted = 0;
    for (const del of statements.slice(0, -1)) rowsDeleted += (await query(ctx.db, del, 'deleting replaced rows')).rowCount ?? 0;
    const inserted = await query(ctx.db, statements.at(-1) ?? '', 'inserting staged rows');
    return { rowsInserted: inserted.rowCount ?? 0, rowsDeleted };
  },
  async describe(db, config, plan, staging) {
    const keys = uniqueKey(config) ?? [];
    const loaded = await describeNewOrEmptyTarget(db, config, plan, staging, keys);
    if (loaded) return loaded;
    const inPlace = await planInPlaceMerge(db, config.sink.table, keys, plan.columns);
    if (inPlace.merge) {
      const { unstaged, countFromStatistics } = inPlace.merge;
      return [
        countFromStatistics
          ? upsertSql(config.sink.table, staging, plan.columns, keys, unstaged)
          : replaceInPlaceSql(config.sink.table, staging, plan.columns, keys, unstaged, inPlace.merge),
      ];
    }
    return deleteInsertSql(config.sink.table, staging, plan.columns, keyColumns(plan, keys));
  },
};

/** `incremental_merge` / `upsert`: rowsInserted counts inserted and updated rows. */
export const upsert: Strategy = {
  check: checkUpsertIndex,
  // INSERT ... SELECT scans staging; ON CONFLICT looks each key up in the target's unique index.
  needsStagingStatistics: () => false,
  async apply(ctx) {
    const keys = uniqueKey(ctx.config) ?? [];
    const loaded = await loadNewOrEmptyTarget(ctx, keys);
    if (loaded) return loaded;
    const result = await query(ctx.db, upsertSql(ctx.config.sink.table, ctx.staging, ctx.plan.columns, keys), 'upserting staged rows');
    return { rowsInserted: result.rowCount ?? 0, rowsDeleted: 0 };
  },
  async describe(db, config, plan, staging) {
    const keys = uniqueKey(config) ?? [];
    return (await describeNewOrEmptyTarget(db, config, plan, staging, keys)) ?? [upsertSql(config.sink.table, staging, plan.columns, keys)];
  },
};

/** The overlap of this window with the previous one: rows an earlier run may have loaded. */
function appendOverlap(plan: RunPlan, cursorBefore: unknown): AppendOverlap | undefined {
  const w = plan.window;
  if (w.strategy !== 'column' || w.full || !w.column || w.lower === null) return undefined;
  const before = cursorBefore as { value?: unknown } | null;
  if (!before || typeof before.value !== 'string') return undefined;
  return { cursor: w.column, before: before.value, lower: w.lower };
}

/** Builds the SQL of `incremental_append` for a run. */
function appendStatement(config: PipelineConfig, plan: RunPlan, staging: StrategyContext['staging'], cursorBefore: unknown): string {
  const s = config.sink.strategy;
  const keys = uniqueKey(config);
  if (s.mode === 'incremental_append' && s.only_new_rows) {
    return insertNewKeysSql(config.sink.table, staging, plan.columns, keyColumns(plan, keys ?? []));
  }
  const types = new Map((plan.targetColumns ?? plan.columns).map((c) => [c.name, c.type]));
  return appendSql(config.sink.table, staging, plan.columns, types, appendOverlap(plan, cursorBefore), keys ? keyColumns(plan, keys) : undefined);
}

/** The key a new append target gets a unique index on: only_new_rows looks keys up in it. */
function appendKeyIndex(config: PipelineConfig): readonly string[] | undefined {
  const s = config.sink.strategy;
  return s.mode === 'incremental_append' && s.only_new_rows ? uniqueKey(config) : undefined;
}

/** `incremental_append` (plain, or `only_new_rows`). */
export const append: Strategy = {
  async apply(ctx) {
    const loaded = await loadNewOrEmptyTarget(ctx, appendKeyIndex(ctx.config));
    if (loaded) return loaded;
    const inserted = await query(ctx.db, appendStatement(ctx.config, ctx.plan, ctx.staging, ctx.cursorBefore), 'appending staged rows');
    return { rowsInserted: inserted.rowCount ?? 0, rowsDeleted: 0 };
  },
  async describe(db, config, plan, staging) {
    return (
      (await describeNewOrEmptyTarget(db, config, plan, staging, appendKeyIndex(config))) ?? [
        appendStatement(config, plan, staging, plan.window.lower === null ? null : { value: '<stored cursor>' }),
      ]
    );
  },
};

/** `replace`: the strategy's custom_predicate runs inside the apply transaction, so an empty extract empties the slice. */
export const replace: Strategy = {
  async apply(ctx) {
    const s = ctx.config.sink.strategy;
    if (s.mode !== 'replace') throw new InternalError('replace strategy called for another mode');
    // The predicate runs against the target even when it was just created or is empty, so a bad one fails the first run.
    if (!(await readTableExists(ctx.db, ctx.config.sink.table)))
      await query(ctx.db, createTableSql(ctx.config.sink.table, ctx.plan.columns), 'creating the target');
    const [del, ins] = replaceSql(ctx.config.sink.table, ctx.staging, ctx.plan.columns, s.custom_predicate);
    const deleted = await query(ctx.db, del ?? '', 'deleting the replaced slice');
    const inserted = await query(ctx.db, ins ?? '', 'inserting staged rows');
    return { rowsInserted: inserted.rowCount ?? 0, rowsDeleted: deleted.rowCount ?? 0 };
  },
  async describe(_db, config, plan, staging) {
    const s = config.sink.strategy;
    if (s.mode !== 'replace') return [];
    const create = plan.targetExists ? [] : [createTableSql(config.sink.table, plan.columns)];
    return [...create, ...replaceSql(config.sink.table, staging, plan.columns, s.custom_predicate)];
  },
};

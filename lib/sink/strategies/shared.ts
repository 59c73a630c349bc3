/** What several strategies share: their key, and the load of a new or empty target that replaces their own statements. */
import type pg from 'pg';
import type { PipelineConfig } from '../../config/index.ts';
import { serverVersion } from '../../db/server.ts';
import { createTableSql } from '../../sql/ddl.ts';
import { insertAllSql } from '../../sql/load.ts';
import { uniqueKeyIndexSql, type KeyColumn } from '../../sql/merge.ts';
import type { RunPlan } from '../../state/types.ts';
import { emptyTargetStatements } from '../empty-target.ts';
import { readTableExists } from '../catalog/index.ts';
import type { StatementContext, Step, StrategyResult } from './types.ts';

/** Steps that may hand the strategy's own statements back (undefined). */
export type Preamble = AsyncGenerator<Step, StrategyResult | undefined, pg.QueryResult | undefined>;

/** Rows a statement affected; 0 when describing. */
export function rows(result: pg.QueryResult | undefined): number {
  return result?.rowCount ?? 0;
}

/** `sink.strategy.unique_key` of the merge and append modes. */
export function uniqueKey(config: PipelineConfig): readonly string[] | undefined {
  const s = config.sink.strategy;
  return s.mode === 'incremental_merge' || s.mode === 'incremental_append' ? s.unique_key : undefined;
}

/** `sink.strategy.duplicate_policy` of the merge and append modes. */
export function duplicatePolicy(config: PipelineConfig): 'fail' | 'keep_last' {
  const s = config.sink.strategy;
  return s.mode === 'incremental_merge' || s.mode === 'incremental_append' ? s.duplicate_policy : 'fail';
}

/** Key columns with NOT NULL as the target declares them (a target created by the run: as staged, nullable). */
export function keyColumns(plan: RunPlan, keys: readonly string[]): KeyColumn[] {
  const target = new Map((plan.targetColumns ?? []).map((c) => [c.name, c.notNull]));
  return keys.map((name) => ({ name, notNull: target.get(name) ?? false }));
}

/**
 * A missing target (create_table) is created, every staged row inserted, and then the unique index on the
 * key built, when there is one. Undefined when the target exists.
 */
export async function* newTargetStatements(ctx: StatementContext, keys: readonly string[] | undefined): Preamble {
  const target = ctx.config.sink.table;
  if (await readTableExists(ctx.db, target)) return undefined;
  yield { sql: createTableSql(target, ctx.plan.columns), what: 'creating the target' };
  const inserted = yield { sql: insertAllSql(target, ctx.staging, ctx.plan.columns), what: 'inserting into the new target' };
  if (keys && keys.length > 0) {
    yield { sql: uniqueKeyIndexSql(target, keys, (await serverVersion(ctx.db)) >= 150000), what: 'creating the target key index' };
  }
  return { rowsInserted: rows(inserted), rowsDeleted: 0 };
}

/** A new target (created, loaded, indexed) or an empty one (see ../empty-target.ts), or undefined: the strategy's own statements. */
export async function* newOrEmptyTargetStatements(ctx: StatementContext, keys: readonly string[] | undefined): Preamble {
  return (
    (yield* newTargetStatements(ctx, keys)) ??
    (yield* emptyTargetStatements({
      db: ctx.db,
      target: ctx.config.sink.table,
      staging: ctx.staging,
      columns: ctx.plan.columns,
      stagedRows: ctx.stagedRows,
      log: ctx.log,
      describing: ctx.describing,
    }))
  );
}

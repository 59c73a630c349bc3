/**
 * `incremental_append`: inserts the staged rows, skipping those an overlapping window loaded before (by key, when
 * there is one); `only_new_rows` inserts only staged rows whose key is not in the target.
 */
import type { PipelineConfig } from '../../config/index.ts';
import { appendSql, insertNewKeysSql, type AppendOverlap } from '../../sql/merge.ts';
import type { TableName } from '../../sql/quote.ts';
import type { RunPlan } from '../../state/types.ts';
import { duplicatePolicy, keyColumns, newOrEmptyTargetStatements, rows, uniqueKey } from './shared.ts';
import { defineStrategy } from './statements.ts';

/** The overlap of this window with the previous one: rows an earlier run may have loaded. */
function appendOverlap(plan: RunPlan, cursorBefore: unknown): AppendOverlap | undefined {
  const w = plan.window;
  if (w.strategy !== 'column' || w.full || !w.column || w.lower === null) return undefined;
  const before = cursorBefore as { value?: unknown } | null;
  if (!before || typeof before.value !== 'string') return undefined;
  return { cursor: w.column, before: before.value, lower: w.lower };
}

/** Whether `only_new_rows` is set. */
function onlyNewRows(config: PipelineConfig): boolean {
  const s = config.sink.strategy;
  return s.mode === 'incremental_append' && s.only_new_rows;
}

/** The SQL of `incremental_append` for a run. */
function appendStatement(config: PipelineConfig, plan: RunPlan, staging: TableName, cursorBefore: unknown): string {
  const keys = uniqueKey(config);
  if (onlyNewRows(config)) return insertNewKeysSql(config.sink.table, staging, plan.columns, keyColumns(plan, keys ?? []));
  const types = new Map((plan.targetColumns ?? plan.columns).map((c) => [c.name, c.type]));
  return appendSql(config.sink.table, staging, plan.columns, types, appendOverlap(plan, cursorBefore), keys ? keyColumns(plan, keys) : undefined);
}

export const append = defineStrategy({
  label: (config) => ({ mode: 'incremental_append', strategy: onlyNewRows(config) ? 'only_new_rows' : 'append' }),
  selects: (s) => s.mode === 'incremental_append',
  needs: () => ['SELECT', 'INSERT'],
  keys: uniqueKey,
  // only_new_rows looks keys up in the target: a key staged twice would be inserted twice.
  duplicates: (config) => (onlyNewRows(config) ? duplicatePolicy(config) : undefined),
  async *statements(ctx) {
    // A new append target gets a unique index on the key only with only_new_rows, which looks keys up in it.
    const loaded = yield* newOrEmptyTargetStatements(ctx, onlyNewRows(ctx.config) ? uniqueKey(ctx.config) : undefined);
    if (loaded) return loaded;
    const before = ctx.describing ? (ctx.plan.window.lower === null ? null : { value: '<stored cursor>' }) : ctx.cursorBefore;
    const inserted = yield { sql: appendStatement(ctx.config, ctx.plan, ctx.staging, before), what: 'appending staged rows' };
    return { rowsInserted: rows(inserted), rowsDeleted: 0 };
  },
});

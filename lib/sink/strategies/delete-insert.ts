/**
 * `incremental_merge` / `delete_insert`: deletes the target rows whose key is staged, then inserts every staged
 * row. Where the result cannot differ (see ../in-place-merge.ts), rows are replaced in place by one
 * INSERT ... ON CONFLICT (key) DO UPDATE; rowsDeleted then counts the rows it updated.
 */
import { deleteInsertSql, KEY_ARRAY_LIMIT, replaceInPlaceSql, upsertSql } from '../../sql/merge.ts';
import { analyzeStagingSql } from '../../sql/load.ts';
import { readInsertedInTransaction } from '../catalog/index.ts';
import { planInPlaceMerge } from '../in-place-merge.ts';
import { duplicatePolicy, keyColumns, newOrEmptyTargetStatements, rows, uniqueKey } from './shared.ts';
import { defineStrategy } from './statements.ts';

/**
 * Whether delete_insert's DELETE joins staging (and wants its statistics): a single-column key of at most
 * KEY_ARRAY_LIMIT staged rows is deleted by index lookups of `= ANY (ARRAY(...))` instead.
 */
export function deleteJoinsStaging(keys: readonly string[], stagedRows: number): boolean {
  return keys.length !== 1 || stagedRows > KEY_ARRAY_LIMIT;
}

export const deleteInsert = defineStrategy({
  label: () => ({ mode: 'incremental_merge', strategy: 'delete_insert' }),
  selects: (s) => s.mode === 'incremental_merge' && s.merge_policy === 'delete_insert',
  needs: () => ['SELECT', 'INSERT', 'DELETE'],
  keys: uniqueKey,
  duplicates: duplicatePolicy,
  // Analyzed in its statements, and only before DELETE joins staging: a new or empty target and the in-place merge only scan it.
  needsStagingStatistics: () => false,
  async *statements(ctx) {
    const { db, plan, staging, describing } = ctx;
    const keys = uniqueKey(ctx.config) ?? [];
    const loaded = yield* newOrEmptyTargetStatements(ctx, keys);
    if (loaded) return loaded;
    const target = ctx.config.sink.table;
    // Describing, the staged rows are unknown: the statements of a large staging table are printed.
    const staged = ctx.stagedRows ?? Infinity;
    const inPlace = await planInPlaceMerge(db, target, keys, plan.columns);
    if (inPlace.merge) {
      const { unstaged, returningOld, countFromStatistics } = inPlace.merge;
      if (!describing) ctx.log.info('delete_insert: replacing rows in place (INSERT ... ON CONFLICT DO UPDATE)', { unstaged });
      const what = 'replacing staged rows in place';
      let inserted: number;
      if (countFromStatistics) {
        const before = describing ? 0 : await readInsertedInTransaction(db, target);
        yield { sql: upsertSql(target, staging, plan.columns, keys, unstaged), what };
        inserted = describing ? 0 : (await readInsertedInTransaction(db, target)) - before;
      } else {
        const result = yield { sql: replaceInPlaceSql(target, staging, plan.columns, keys, unstaged, { returningOld }), what };
        // With only key columns to set, DO NOTHING returns just the inserted rows: the others already equal staging.
        inserted = Number(result?.rows[0]?.rows ?? 0) - Number(result?.rows[0]?.replaced ?? 0);
      }
      // Every staged row ends up in the target; the ones that were not inserted anew replaced a row.
      const all = ctx.stagedRows ?? 0;
      return { rowsInserted: all, rowsDeleted: all - inserted };
    }
    if (!describing) ctx.log.info('delete_insert: deleting and inserting', { reason: inPlace.blocker });
    // Describing, the staged rows are unknown, and so is whether the DELETE joins staging: ANALYZE is left out.
    if (!ctx.stagingAnalyzed && !describing && deleteJoinsStaging(keys, staged)) yield { sql: analyzeStagingSql(staging), what: 'analyzing staging' };
    const statements = deleteInsertSql(target, staging, plan.columns, keyColumns(plan, keys), { stagedRows: staged });
    let rowsDeleted = 0;
    for (const del of statements.slice(0, -1)) rowsDeleted += rows(yield { sql: del, what: 'deleting replaced rows' });
    const inserted = yield { sql: statements.at(-1) ?? '', what: 'inserting staged rows' };
    return { rowsInserted: rows(inserted), rowsDeleted };
  },
});

/**
 * `incremental_merge` / `shadow_swap`: the merged table (target rows whose key is not staged, plus every
 * staged row) is built beside the target in the staging schema, then exchanged for the target by rename,
 * with exchange's carry-over (indexes, constraints, grants, comments, owner...) and its refusals (views,
 * foreign keys...). Readers keep reading the old rows until the swap; writers wait from the copy on.
 */
import type { PipelineConfig } from '../../config/index.ts';
import { DatabaseError, InternalError, UnsafeTargetError } from '../../errors.ts';
import { ident, qualified, type TableName } from '../../sql/quote.ts';
import { createShadowSql, insertStagedSql, keepTargetRowsSql, shadowLockSql, shadowTable, type ShadowKey } from '../../sql/shadow-swap.ts';
import type { ColumnCatalog } from '../../sql/target-catalog.ts';
import type { ColumnSpec } from '../../sql/types.ts';
import { readTableExists } from '../catalog/index.ts';
import { checkExchangeAllowed, exchangeRefusal, exchangeSteps, readTargetCatalog, type RefusalOptions } from '../exchange.ts';
import { countRows } from '../target.ts';
import { duplicatePolicy, rows, uniqueKey } from './shared.ts';
import { defineStrategy } from './statements.ts';

/** How exchange words a refusal on shadow_swap's behalf. */
export const SHADOW_SWAP_REFUSAL: RefusalOptions = { strategy: 'shadow_swap', alternative: 'merge_policy: delete_insert' };

/** The merge key (shadow_swap is a merge: it always has one). */
function mergeKey(config: PipelineConfig): readonly string[] {
  const s = config.sink.strategy;
  if (s.mode !== 'incremental_merge') throw new InternalError(`shadow_swap strategy called for mode ${s.mode}`);
  return s.unique_key;
}

/**
 * Why the staged columns cannot rebuild the target, or undefined: the shadow is the target's whole rows,
 * so staging must have exactly the target's columns (types may differ; the INSERT casts).
 */
export function columnsRefusal(target: TableName, targetColumns: readonly string[], staged: readonly string[], keys: readonly string[]): string | undefined {
  const missing = targetColumns.filter((c) => !staged.includes(c));
  const extra = staged.filter((c) => !targetColumns.includes(c));
  const badKeys = keys.filter((k) => !targetColumns.includes(k));
  const reasons = [
    ...(missing.length > 0 ? [`the target's column(s) ${missing.map(ident).join(', ')} are not extracted`] : []),
    ...(extra.length > 0 ? [`the extracted column(s) ${extra.map(ident).join(', ')} are not in the target`] : []),
    ...(badKeys.length > 0 ? [`unique_key column(s) ${badKeys.map(ident).join(', ')} are not in the target`] : []),
  ];
  if (reasons.length === 0) return undefined;
  return (
    `shadow_swap rebuilds ${qualified(target)} from its rows and the staged ones, so the extracted columns must be the target's: ${reasons.join('; ')}. ` +
    'Align the columns, or use merge_policy: delete_insert.'
  );
}

function shadowKeys(columns: readonly ColumnCatalog[], keys: readonly string[]): ShadowKey[] {
  return keys.map((name) => ({ name, notNull: columns.find((c) => c.name === name)?.notNull ?? false }));
}

/** `incremental_merge` / `shadow_swap`. rowsDeleted: target rows replaced by a staged key; rowsInserted: staged rows. */
export const shadowSwap = defineStrategy({
  label: () => ({ mode: 'incremental_merge', strategy: 'shadow_swap' }),
  selects: (s) => s.mode === 'incremental_merge' && s.merge_policy === 'shadow_swap',
  needs: () => ['ownership'],
  replacesTarget: true,
  keys: uniqueKey,
  duplicates: duplicatePolicy,
  async check(db, config, plan) {
    await checkExchangeAllowed(db, config.sink.table, SHADOW_SWAP_REFUSAL);
    if (!plan.targetExists || !plan.targetColumns) return;
    const reason = columnsRefusal(
      config.sink.table,
      plan.targetColumns.map((c) => c.name),
      plan.columns.map((c) => c.name),
      mergeKey(config),
    );
    if (reason !== undefined) throw new UnsafeTargetError(reason);
  },

  async *statements({ db, config, plan, staging, log, describing }) {
    const target = config.sink.table;
    const keys = mergeKey(config);
    const shadow = shadowTable(staging);
    const exchange = { refusal: SHADOW_SWAP_REFUSAL, describing };
    if (!(await readTableExists(db, target))) {
      // No target yet: the staged rows are the merged table.
      yield { batch: createShadowSql(shadow, plan.columns, { unlogged: false }), what: 'shadow_swap: creating the shadow table' };
      const inserted = yield { sql: insertStagedSql(shadow, staging, plan.columns), what: 'shadow_swap: copying staged rows' };
      yield* exchangeSteps(db, target, shadow, exchange);
      return { rowsInserted: rows(inserted), rowsDeleted: 0 };
    }
    const catalog = await readTargetCatalog(db, target);
    const refusal = catalog ? exchangeRefusal(catalog, SHADOW_SWAP_REFUSAL) : undefined;
    if (refusal !== undefined) throw new UnsafeTargetError(refusal);
    if (!catalog) throw new DatabaseError(`shadow_swap: ${qualified(target)} disappeared while the run read it; run the pipeline again`);
    const columns: ColumnSpec[] = catalog.columns.map((c) => ({ name: c.name, type: c.type }));
    const mismatch = columnsRefusal(
      target,
      columns.map((c) => c.name),
      plan.columns.map((c) => c.name),
      keys,
    );
    if (mismatch !== undefined) throw new UnsafeTargetError(mismatch);

    yield { sql: shadowLockSql(target), what: 'shadow_swap: locking the target' };
    const before = describing ? 0 : await countRows(db, target);
    yield { batch: createShadowSql(shadow, columns, { unlogged: catalog.unlogged }), what: 'shadow_swap: creating the shadow table' };
    const kept = rows(
      yield { sql: keepTargetRowsSql(shadow, target, staging, columns, shadowKeys(catalog.columns, keys)), what: 'shadow_swap: copying kept target rows' },
    );
    const inserted = rows(yield { sql: insertStagedSql(shadow, staging, plan.columns), what: 'shadow_swap: copying staged rows' });
    yield* exchangeSteps(db, target, shadow, exchange);
    if (!describing) log.info('shadow_swap: swapped the merged table in', { kept, replaced: before - kept, inserted });
    return { rowsInserted: inserted, rowsDeleted: before - kept };
  },
});

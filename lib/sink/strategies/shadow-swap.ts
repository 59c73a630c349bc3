/**
 * `incremental_merge` / `shadow_swap`: the merged table (target rows whose key is not staged, plus every
 * staged row) is built beside the target in the staging schema, then exchanged for the target by rename,
 * with exchange's carry-over (indexes, constraints, grants, comments, owner...) and its refusals (views,
 * foreign keys...). Readers keep reading the old rows until the swap; writers wait from the copy on.
 */
import type { PipelineConfig } from '../../config/index.ts';
import { execute, query } from '../../db/index.ts';
import { DatabaseError, InternalError, UnsafeTargetError } from '../../errors.ts';
import { exchangeStatements, exchangeTempPrefix } from '../../sql/exchange.ts';
import { ident, qualified, type TableName } from '../../sql/quote.ts';
import { createShadowSql, insertStagedSql, keepTargetRowsSql, shadowLockSql, shadowTable, type ShadowKey } from '../../sql/shadow-swap.ts';
import type { ColumnCatalog } from '../../sql/target-catalog.ts';
import type { ColumnSpec } from '../../sql/types.ts';
import { readTableExists } from '../catalog/index.ts';
import { checkExchangeAllowed, exchangeRefusal, exchangeTable, readTargetCatalog, type RefusalOptions } from '../exchange.ts';
import { countRows } from '../target.ts';
import type { Strategy } from './types.ts';

/** How exchange words a refusal on shadow_swap's behalf. */
export const SHADOW_SWAP_REFUSAL: RefusalOptions = { strategy: 'shadow_swap', alternative: 'merge_policy: delete_insert' };

function uniqueKey(config: PipelineConfig): readonly string[] {
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
export const shadowSwap: Strategy = {
  async check(db, config, plan) {
    await checkExchangeAllowed(db, config.sink.table, SHADOW_SWAP_REFUSAL);
    if (!plan.targetExists || !plan.targetColumns) return;
    const reason = columnsRefusal(
      config.sink.table,
      plan.targetColumns.map((c) => c.name),
      plan.columns.map((c) => c.name),
      uniqueKey(config),
    );
    if (reason !== undefined) throw new UnsafeTargetError(reason);
  },

  async apply({ db, config, plan, staging, log }) {
    const target = config.sink.table;
    const keys = uniqueKey(config);
    const shadow = shadowTable(staging);
    if (!(await readTableExists(db, target))) {
      // No target yet: the staged rows are the merged table.
      await execute(db, createShadowSql(shadow, plan.columns, { unlogged: false }), 'shadow_swap: creating the shadow table');
      const inserted = await query(db, insertStagedSql(shadow, staging, plan.columns), 'shadow_swap: copying staged rows');
      await exchangeTable(db, target, shadow, { refusal: SHADOW_SWAP_REFUSAL });
      return { rowsInserted: inserted.rowCount ?? 0, rowsDeleted: 0 };
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

    await query(db, shadowLockSql(target), 'shadow_swap: locking the target');
    const before = await countRows(db, target);
    await execute(db, createShadowSql(shadow, columns, { unlogged: catalog.unlogged }), 'shadow_swap: creating the shadow table');
    const kept =
      (await query(db, keepTargetRowsSql(shadow, target, staging, columns, shadowKeys(catalog.columns, keys)), 'shadow_swap: copying kept target rows'))
        .rowCount ?? 0;
    const inserted = (await query(db, insertStagedSql(shadow, staging, plan.columns), 'shadow_swap: copying staged rows')).rowCount ?? 0;
    await exchangeTable(db, target, shadow, { refusal: SHADOW_SWAP_REFUSAL });
    log.info('shadow_swap: swapped the merged table in', { kept, replaced: before - kept, inserted });
    return { rowsInserted: inserted, rowsDeleted: before - kept };
  },

  async describe(db, config, plan, staging) {
    const target = config.sink.table;
    const shadow = shadowTable(staging);
    const catalog = plan.targetExists ? await readTargetCatalog(db, target) : undefined;
    const exchange = exchangeStatements(catalog, target, shadow, exchangeTempPrefix(shadow));
    if (!catalog)
      return [
        ...createShadowSql(shadow, plan.columns, { unlogged: false }),
        insertStagedSql(shadow, staging, plan.columns),
        ...exchange.prepare,
        ...exchange.swap,
      ];
    const columns = catalog.columns.map((c) => ({ name: c.name, type: c.type }));
    return [
      shadowLockSql(target),
      ...createShadowSql(shadow, columns, { unlogged: catalog.unlogged }),
      keepTargetRowsSql(shadow, target, staging, columns, shadowKeys(catalog.columns, uniqueKey(config))),
      insertStagedSql(shadow, staging, plan.columns),
      ...exchange.prepare,
      ...exchange.swap,
    ];
  },
};

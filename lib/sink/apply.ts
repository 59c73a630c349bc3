/** Runs the load strategy's SQL inside the caller's apply transaction. */
import type { PipelineConfig } from '../config/index.ts';
import { execute, query, type Db } from '../db/index.ts';
import { NotSupportedError } from '../errors.ts';
import { createTableSql } from '../sql/ddl.ts';
import { truncateInsertSql } from '../sql/load.ts';
import { qualified, type TableName } from '../sql/quote.ts';
import type { RunPlan } from '../state/types.ts';
import { exchangeTable } from './exchange.ts';
import { stagingTables } from './staging.ts';

/** Rows the strategy changed in the target. */
export interface StrategyResult {
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
}

/** Whether a table exists (usable inside a transaction, unlike describeTable). */
export async function tableExists(db: Db, table: TableName): Promise<boolean> {
  const result = await query<{ exists: boolean }>(db, { text: 'SELECT to_regclass($1) IS NOT NULL AS exists', values: [qualified(table)] }, 'looking up the target');
  return result.rows[0]?.exists ?? false;
}

async function countRows(db: Db, table: TableName): Promise<number> {
  const result = await query<{ n: string }>(db, `SELECT count(*) AS n FROM ${qualified(table)}`, 'counting target rows');
  return Number(result.rows[0]?.n ?? 0);
}

/** Applies the staged rows to the target; must run inside the apply transaction. */
export async function applyStrategy(db: Db, config: PipelineConfig, plan: RunPlan, stagedRows: number): Promise<StrategyResult> {
  const strategy = config.sink.strategy;
  const target = config.sink.table;
  const { staging } = stagingTables(plan);
  if (strategy.mode !== 'full_refresh') throw new NotSupportedError(`sink.strategy.mode ${strategy.mode} is not supported yet`);
  const exists = await tableExists(db, target);
  const rowsDeleted = exists ? await countRows(db, target) : 0;
  if (strategy.overwrite_type === 'exchange') {
    // The staging marker comment must not survive as the target's comment.
    await query(db, `COMMENT ON TABLE ${qualified(staging)} IS NULL`, 'exchanging the target');
    await exchangeTable(db, target, staging);
    return { rowsInserted: stagedRows, rowsDeleted };
  }
  if (!exists) await query(db, createTableSql(target, plan.columns), 'creating the target');
  const [truncate, insert] = truncateInsertSql(target, staging, plan.columns);
  await execute(db, [truncate ?? ''], 'truncating the target');
  const inserted = await query(db, insert ?? '', 'inserting into the target');
  return { rowsInserted: inserted.rowCount ?? 0, rowsDeleted };
}

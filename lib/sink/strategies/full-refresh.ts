/** `full_refresh`: `truncate_insert` (TRUNCATE + INSERT in the apply transaction) or `exchange` (staging becomes the target). */
import { execute, query } from '../../db/index.ts';
import { createTableSql } from '../../sql/ddl.ts';
import { exchangeStatements, exchangeTempPrefix } from '../../sql/exchange.ts';
import { truncateInsertSql } from '../../sql/load.ts';
import { qualified } from '../../sql/quote.ts';
import { checkExchangeAllowed, exchangeTable, readTargetCatalog } from '../exchange.ts';
import { countRows, tableExists } from '../target.ts';
import type { Strategy } from './types.ts';

/** `full_refresh` / `truncate_insert`. */
export const truncateInsert: Strategy = {
  async apply({ db, config, plan, staging }) {
    const target = config.sink.table;
    const exists = await tableExists(db, target);
    const rowsDeleted = exists ? await countRows(db, target) : 0;
    if (!exists) await query(db, createTableSql(target, plan.columns), 'creating the target');
    const [truncate, insert] = truncateInsertSql(target, staging, plan.columns);
    await execute(db, [truncate ?? ''], 'truncating the target');
    const inserted = await query(db, insert ?? '', 'inserting into the target');
    return { rowsInserted: inserted.rowCount ?? 0, rowsDeleted };
  },
  async describe(_db, config, plan, staging) {
    return [...(plan.targetExists ? [] : [createTableSql(config.sink.table, plan.columns)]), ...truncateInsertSql(config.sink.table, staging, plan.columns)];
  },
};

/** `full_refresh` / `exchange`. */
export const exchange: Strategy = {
  async check(db, config) {
    await checkExchangeAllowed(db, config.sink.table);
  },
  async apply({ db, config, staging, stagedRows }) {
    const target = config.sink.table;
    const rowsDeleted = (await tableExists(db, target)) ? await countRows(db, target) : 0;
    // The staging marker comment must not survive as the target's comment.
    await query(db, `COMMENT ON TABLE ${qualified(staging)} IS NULL`, 'exchanging the target');
    await exchangeTable(db, target, staging);
    return { rowsInserted: stagedRows, rowsDeleted };
  },
  async describe(db, config, _plan, staging) {
    const catalog = await readTargetCatalog(db, config.sink.table);
    const statements = exchangeStatements(catalog, config.sink.table, staging, exchangeTempPrefix(staging));
    return [...statements.prepare, ...statements.swap];
  },
};

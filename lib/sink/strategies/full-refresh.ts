/** `full_refresh`: `truncate_insert` (TRUNCATE + INSERT in the apply transaction) or `exchange` (staging becomes the target). */
import { execute, query } from '../../db/index.ts';
import { createTableSql } from '../../sql/ddl.ts';
import { deferredLoadSql, INDEX_BUILD_MEMORY_BYTES, maintenanceWorkMemSql } from '../../sql/deferred-indexes.ts';
import { adoptPrebuilt, prebuiltIndexName } from '../../sql/exchange-prebuild.ts';
import { exchangeStatements, exchangeTempPrefix, stagedNotNullFor } from '../../sql/exchange.ts';
import { truncateInsertSql } from '../../sql/load.ts';
import { qualified } from '../../sql/quote.ts';
import { readDeferrableIndexes, readTableExists } from '../catalog/index.ts';
import { insertWithDeferredIndexes } from '../deferred-indexes.ts';
import { checkExchangeAllowed, exchangePrebuildSql, exchangeTable, readTargetCatalog } from '../exchange.ts';
import { countRows } from '../target.ts';
import type { Strategy } from './types.ts';

/**
 * `full_refresh` / `truncate_insert`. After TRUNCATE (which locks the target) the indexes that can be rebuilt
 * exactly are dropped, the rows inserted into the bare heap, and the indexes built again by one sort each:
 * about twice as fast as maintaining them row by row, and all inside the apply transaction.
 */
export const truncateInsert: Strategy = {
  // TRUNCATE + INSERT only scans staging.
  needsStagingStatistics: () => false,
  async apply({ db, config, plan, staging }) {
    const target = config.sink.table;
    const exists = await readTableExists(db, target);
    const rowsDeleted = exists ? await countRows(db, target) : 0;
    if (!exists) await query(db, createTableSql(target, plan.columns), 'creating the target');
    const [truncate, insert] = truncateInsertSql(target, staging, plan.columns);
    await execute(db, [truncate ?? ''], 'truncating the target');
    const deferred = exists ? await readDeferrableIndexes(db, target) : [];
    const inserted = await insertWithDeferredIndexes(db, target, insert ?? '', deferred);
    return { rowsInserted: inserted, rowsDeleted };
  },
  async describe(db, config, plan, staging) {
    const target = config.sink.table;
    const [truncate, insert] = truncateInsertSql(target, staging, plan.columns);
    if (!plan.targetExists) return [createTableSql(target, plan.columns), truncate ?? '', insert ?? ''];
    // Read outside the lock TRUNCATE will take; the run reads again after it.
    const { before, after } = deferredLoadSql(target, await readDeferrableIndexes(db, target));
    return [truncate ?? '', ...before, insert ?? '', ...after];
  },
};

/** `full_refresh` / `exchange`. */
export const exchange: Strategy = {
  async check(db, config) {
    const catalog = await checkExchangeAllowed(db, config.sink.table);
    // The staging table is created with the target's NOT NULLs: COPY checks them, the exchange keeps them.
    const stagedNotNull = catalog ? stagedNotNullFor(catalog) : [];
    return stagedNotNull.length > 0 ? { stagedNotNull } : {};
  },
  /**
   * The target's indexes built on staging before the transaction, several at once (one sort each, as inside it),
   * and ANALYZE beside them; the exchange adopts every index whose definition has not changed since. The
   * builds share the memory one build inside the transaction would get.
   */
  async ahead({ db, config, plan, staging, stagedRows }) {
    const builds = await exchangePrebuildSql(db, config.sink.table, staging, plan.stagedNotNull ?? []);
    if (builds.length === 0) return [];
    const memory = maintenanceWorkMemSql(INDEX_BUILD_MEMORY_BYTES / Math.min(builds.length, config.source.options.max_parallel_chunks));
    const jobs = builds.map((sql) => ({ what: 'building an index of the exchange', statements: [memory, sql] }));
    if (stagedRows === 0) return jobs;
    return [...jobs, { what: 'analyzing staging', statements: [`ANALYZE ${qualified(staging)}`], analyzesStaging: true }];
  },
  async apply({ db, config, plan, staging, stagedRows }) {
    const target = config.sink.table;
    const rowsDeleted = (await readTableExists(db, target)) ? await countRows(db, target) : 0;
    // The staging marker comment must not survive as the target's comment.
    await query(db, `COMMENT ON TABLE ${qualified(staging)} IS NULL`, 'exchanging the target');
    await exchangeTable(db, target, staging, { stagedNotNull: plan.stagedNotNull ?? [] });
    return { rowsInserted: stagedRows, rowsDeleted };
  },
  async describe(db, config, plan, staging) {
    const catalog = await readTargetCatalog(db, config.sink.table);
    const prefix = exchangeTempPrefix(staging);
    const statements = exchangeStatements(catalog, config.sink.table, staging, prefix, plan.stagedNotNull ?? []);
    // As when every build ahead succeeded: the transaction renames them into place.
    const built = statements.prebuildable.map((build) => prebuiltIndexName(prefix, build));
    return [...adoptPrebuilt(statements, prefix, staging, built), ...statements.swap];
  },
};

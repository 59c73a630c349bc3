/** `full_refresh` / `exchange`: the loaded staging table becomes the target by rename (see ../exchange.ts). */
import { INDEX_BUILD_MEMORY_BYTES, maintenanceWorkMemSql } from '../../sql/deferred-indexes.ts';
import { clearStagingCommentSql, stagedNotNullFor } from '../../sql/exchange.ts';
import { analyzeStagingSql } from '../../sql/load.ts';
import { checkExchangeAllowed, exchangePrebuildSql, exchangeSteps } from '../exchange.ts';
import { readTableExists } from '../catalog/index.ts';
import { countRows } from '../target.ts';
import { defineStrategy } from './statements.ts';

export const exchange = defineStrategy({
  label: () => ({ mode: 'full_refresh', strategy: 'exchange' }),
  selects: (s) => s.mode === 'full_refresh' && s.overwrite_type === 'exchange',
  needs: () => ['ownership'],
  replacesTarget: true,
  stagingBecomesTarget: true,
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
    return [...jobs, { what: 'analyzing staging', statements: [analyzeStagingSql(staging)], analyzesStaging: true }];
  },
  async *statements({ db, config, plan, staging, stagedRows, describing }) {
    const target = config.sink.table;
    const rowsDeleted = !describing && (await readTableExists(db, target)) ? await countRows(db, target) : 0;
    yield { sql: clearStagingCommentSql(staging), what: 'exchanging the target' };
    yield* exchangeSteps(db, target, staging, { stagedNotNull: plan.stagedNotNull ?? [], describing, builtAhead: true });
    return { rowsInserted: stagedRows ?? 0, rowsDeleted };
  },
});

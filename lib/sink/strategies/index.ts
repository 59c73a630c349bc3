/** Picks the load strategy of a pipeline and resolves duplicate keys in staging before it runs. */
import { performance } from 'node:perf_hooks';
import type { DuplicatePolicy, PipelineConfig } from '../../config/index.ts';
import { query, type Db } from '../../db/index.ts';
import { DuplicateKeyError, InternalError } from '../../errors.ts';
import type { TaskLogger } from '../../log.ts';
import { findDuplicateKeySql, keepLastSql, XMIN_COLUMN } from '../../sql/merge.ts';
import { identList, qualified } from '../../sql/quote.ts';
import type { RunPlan } from '../../state/types.ts';
import { runAhead } from '../ahead.ts';
import { analyzeStaging, stagedTotals, stagingTables } from '../staging.ts';
import { append } from './append.ts';
import { deleteInsert } from './delete-insert.ts';
import { exchange } from './exchange.ts';
import { partitionReplace } from './partition-replace.ts';
import { replace } from './replace.ts';
import { shadowSwap } from './shadow-swap.ts';
import { truncateInsert } from './truncate-insert.ts';
import type { Strategy, StrategyContext, StrategyResult } from './types.ts';
import { upsert } from './upsert.ts';

/** Every load strategy; a pipeline gets the first whose `selects` takes its sink.strategy. A new strategy is one file and one line here. */
export const STRATEGIES: readonly Strategy[] = [truncateInsert, exchange, append, deleteInsert, upsert, shadowSwap, replace, partitionReplace];

/** The strategy a pipeline's sink.strategy picks. */
export function strategyFor(config: PipelineConfig): Strategy {
  const strategy = STRATEGIES.find((s) => s.selects(config.sink.strategy));
  if (!strategy) throw new InternalError(`no load strategy takes sink.strategy ${JSON.stringify(config.sink.strategy)}`);
  return strategy;
}

/** The keys staged rows are deduplicated by before the apply, and how; undefined when they are not. */
export function dedupeKeys(config: PipelineConfig): { keys: readonly string[]; policy: DuplicatePolicy } | undefined {
  const strategy = strategyFor(config);
  const keys = strategy.keys?.(config) ?? [];
  const policy = strategy.duplicates?.(config);
  return keys.length > 0 && policy !== undefined ? { keys, policy } : undefined;
}

/**
 * Applies duplicate_policy to staging: `fail` names one duplicated key before the target is touched;
 * `keep_last` keeps, per key, the row with the greatest cursor value, then the latest xmin.
 */
export async function resolveDuplicates(ctx: StrategyContext): Promise<number> {
  const dedupe = dedupeKeys(ctx.config);
  if (!dedupe) return 0;
  const { keys, policy } = dedupe;
  const unique = ctx.plan.stagedKeysUnique;
  if (unique) {
    ctx.log.info('staged keys cannot repeat: no duplicate-key check', { sourceIndex: unique.sourceIndex, targetIndex: unique.targetIndex });
    return 0;
  }
  if (policy === 'keep_last') {
    const options = ctx.config.source.options;
    const removed = await query(
      ctx.db,
      keepLastSql(ctx.staging, keys, {
        cursor: options.incremental_strategy === 'column' ? options.incremental_column : undefined,
        xmin: ctx.plan.xminReference !== undefined,
      }),
      'keeping the last row per key',
    );
    return removed.rowCount ?? 0;
  }
  const found = await query<Record<string, string | null>>(ctx.db, findDuplicateKeySql(ctx.staging, keys), 'looking for duplicate keys');
  const row = found.rows[0];
  if (row) {
    const key = Object.fromEntries(keys.map((k) => [k, row[k] ?? null]));
    throw new DuplicateKeyError(
      `staged rows hold the key (${identList(keys)}) = (${keys.map((k) => (row[k] === null ? 'NULL' : JSON.stringify(row[k]))).join(', ')}) ${row.n} times; nothing was applied to ${qualified(ctx.config.sink.table)}. Set sink.strategy.duplicate_policy: keep_last to keep the newest row per key`,
      key,
    );
  }
  return 0;
}

/**
 * Above this many staged rows, staging is analyzed before the duplicate-key check: without statistics the
 * planner expects 200 keys and hashes them in work_mem, spilling batch after batch; analyzed, it sorts in
 * parallel, which is faster even with the ANALYZE counted (see "What makes it fast" in docs/performance.md).
 */
export const DEDUPE_STATISTICS_ROWS = 100_000;

/**
 * Whether staging is analyzed before the apply. It was never analyzed: without statistics the planner
 * guesses its size for every join with the target and for the duplicate-key check, and an exchanged table
 * would start life with none.
 */
export function analyzesStaging(ctx: StrategyContext): boolean {
  if (ctx.stagedRows === 0) return false;
  if (strategyFor(ctx.config).needsStagingStatistics?.(ctx) ?? true) return true;
  const checksKeys = dedupeKeys(ctx.config) !== undefined && !ctx.plan.stagedKeysUnique;
  return checksKeys && ctx.stagedRows > DEDUPE_STATISTICS_ROWS;
}

/**
 * Runs the strategy's work ahead of the apply transaction (index builds of an exchange, ANALYZE), at most
 * `max_parallel_chunks` jobs at once, and tells whether staging was analyzed by it.
 */
export async function runStrategyAhead(
  db: Db,
  config: PipelineConfig,
  plan: RunPlan,
  options: { readonly connect: () => Promise<Db>; readonly log: TaskLogger },
): Promise<{ stagingAnalyzed: boolean }> {
  const strategy = strategyFor(config);
  if (!strategy.ahead) return { stagingAnalyzed: false };
  const staging = stagingTables(plan).staging;
  const jobs = await strategy.ahead({ db, config, plan, staging, stagedRows: (await stagedTotals(db, plan)).rows });
  if (jobs.length === 0) return { stagingAnalyzed: false };
  const started = performance.now();
  const done = await runAhead(jobs, { parallel: config.source.options.max_parallel_chunks, ...options });
  options.log.info('work ahead of the apply transaction', { jobs: jobs.length, done: done.size, ms: Math.round(performance.now() - started) });
  return { stagingAnalyzed: jobs.some((job, n) => job.analyzesStaging === true && done.has(n)) };
}

/** Resolves duplicates, then runs the strategy; inside the apply transaction. */
export async function applyStrategy(ctx: StrategyContext): Promise<StrategyResult> {
  const strategy = strategyFor(ctx.config);
  const ahead = ctx.stagingAnalyzed === true;
  const analyzed = ahead || analyzesStaging(ctx);
  if (analyzed && !ahead) await analyzeStaging(ctx.db, ctx.staging);
  const removed = await resolveDuplicates(ctx);
  if (removed > 0) ctx.log.info('duplicate keys resolved with keep_last', { removed });
  return strategy.apply({ ...ctx, stagedRows: ctx.stagedRows - removed, stagingAnalyzed: analyzed });
}

export { XMIN_COLUMN };
export type { Strategy, StrategyContext, StrategyResult, TargetNeed } from './types.ts';

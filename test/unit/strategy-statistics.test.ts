import { describe, expect, it } from 'vitest';
import { analyzesStaging, DEDUPE_STATISTICS_ROWS, strategyFor } from '../../lib/sink/strategies/index.ts';
import { deleteJoinsStaging } from '../../lib/sink/strategies/delete-insert.ts';
import type { StrategyContext } from '../../lib/sink/strategies/types.ts';
import { KEY_ARRAY_LIMIT } from '../../lib/sql/merge.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';

const URL = 'postgres://u:p@localhost:5432/db';

function context(strategy: Record<string, unknown>, stagedRows: number): StrategyContext {
  const config = pipelineConfig(URL, URL, { strategy, options: { incremental_strategy: 'column', incremental_column: 'updated_at' } });
  return { config, stagedRows, plan: {} } as unknown as StrategyContext;
}

const needs = (ctx: StrategyContext): boolean => strategyFor(ctx.config).needsStagingStatistics?.(ctx) ?? true;

describe('Function: needsStagingStatistics', () => {
  it('skips ANALYZE of staging where no statement joins it', () => {
    expect(needs(context({ mode: 'full_refresh', overwrite_type: 'truncate_insert' }, 5_000_000))).toBe(false);
    expect(needs(context({ mode: 'incremental_merge', merge_policy: 'upsert', unique_key: ['id'] }, 50_000))).toBe(false);
    expect(needs(context({ mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['id'] }, KEY_ARRAY_LIMIT))).toBe(false);
  });

  it('leaves delete_insert to analyze in apply, once it knows its DELETE joins staging', () => {
    expect(needs(context({ mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['id'] }, KEY_ARRAY_LIMIT + 1))).toBe(false);
    expect(needs(context({ mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['a', 'b'] }, 10))).toBe(false);
    expect(deleteJoinsStaging(['id'], KEY_ARRAY_LIMIT)).toBe(false);
    expect(deleteJoinsStaging(['id'], KEY_ARRAY_LIMIT + 1)).toBe(true);
    expect(deleteJoinsStaging(['a', 'b'], 10)).toBe(true);
  });

  it('analyzes staging for joins with the target and for a table that becomes the target', () => {
    expect(needs(context({ mode: 'full_refresh', overwrite_type: 'exchange' }, 10))).toBe(true);
    expect(needs(context({ mode: 'incremental_append', unique_key: ['id'], only_new_rows: true }, 10))).toBe(true);
  });
});

describe('Function: analyzesStaging', () => {
  it('analyzes a large staging table before the duplicate-key check, even where no statement joins it', () => {
    const upsert = { mode: 'incremental_merge', merge_policy: 'upsert', unique_key: ['id'] };
    expect(analyzesStaging(context(upsert, DEDUPE_STATISTICS_ROWS))).toBe(false);
    expect(analyzesStaging(context(upsert, DEDUPE_STATISTICS_ROWS + 1))).toBe(true);
    expect(analyzesStaging(context({ mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['id'] }, 500_000))).toBe(true);
    expect(analyzesStaging(context({ mode: 'full_refresh', overwrite_type: 'truncate_insert' }, 5_000_000))).toBe(false);
    expect(analyzesStaging(context({ mode: 'full_refresh', overwrite_type: 'exchange' }, 0))).toBe(false);
  });
});

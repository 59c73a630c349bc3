import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MERGE_POLICIES, NATIVE_MODES, OVERWRITE_TYPES, STRATEGY_MODES, type StrategyConfig } from '../../lib/config/index.ts';
import { STRATEGIES } from '../../lib/sink/strategies/index.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';

/** Every sink.strategy the pipeline file accepts, one per value of each setting that picks a strategy. */
function everyStrategyConfig(): Record<string, unknown>[] {
  const all: Record<string, unknown>[] = [];
  for (const mode of STRATEGY_MODES) {
    if (mode === 'full_refresh') for (const overwrite_type of OVERWRITE_TYPES) all.push({ mode, overwrite_type });
    if (mode === 'incremental_append') for (const only_new_rows of [false, true]) all.push({ mode, only_new_rows, unique_key: ['id'] });
    if (mode === 'incremental_merge') for (const merge_policy of MERGE_POLICIES) all.push({ mode, merge_policy, unique_key: ['id'] });
    if (mode === 'replace') all.push({ mode, custom_predicate: 'true' });
    if (mode === 'partition_replace') for (const native_mode of NATIVE_MODES) all.push({ mode, partition: { column: 'd', native_mode } });
  }
  return all;
}

const URL = 'postgres://u:p@localhost:5432/db';

describe('Feature: a strategy is one descriptor, listed once', () => {
  const configs = everyStrategyConfig().map((strategy) => pipelineConfig(URL, URL, { strategy }));

  it('picks exactly one strategy for every value the pipeline file accepts, and every strategy is picked', () => {
    const picked = new Set<string>();
    for (const config of configs) {
      const takers = STRATEGIES.filter((s) => s.selects(config.sink.strategy));
      expect(takers, JSON.stringify(config.sink.strategy)).toHaveLength(1);
      picked.add(`${takers[0]?.label(config).mode}/${takers[0]?.label(config).strategy}`);
    }
    for (const s of STRATEGIES)
      expect(
        configs.some((c) => s.selects(c.sink.strategy)),
        `STRATEGIES[${STRATEGIES.indexOf(s)}]`,
      ).toBe(true);
    expect(picked.size).toBe(configs.length);
  });

  it('labels each strategy with its mode and the value that picked it', () => {
    const label = (strategy: StrategyConfig): string => {
      const config = configs.find((c) => JSON.stringify(c.sink.strategy) === JSON.stringify(strategy))!;
      const s = STRATEGIES.find((x) => x.selects(strategy))!.label(config);
      return `${s.mode}/${s.strategy}`;
    };
    expect(configs.map((c) => label(c.sink.strategy))).toEqual([
      'full_refresh/truncate_insert',
      'full_refresh/exchange',
      'incremental_append/append',
      'incremental_append/only_new_rows',
      'incremental_merge/delete_insert',
      'incremental_merge/upsert',
      'incremental_merge/shadow_swap',
      'replace/replace',
      'partition_replace/auto',
      'partition_replace/required',
      'partition_replace/fallback',
    ]);
  });

  it('keeps questions about a strategy out of the rest of lib/: no switch on the settings that pick one', () => {
    const root = join(import.meta.dirname, '../../lib');
    const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(root, f));
    // What picks a strategy, read as code (messages that name a setting are fine).
    const picks = /\.(mode|overwrite_type|merge_policy|only_new_rows|native_mode)\s*(===|!==)/;
    const offenders = files
      .filter((f) => !/lib\/(config|sink\/strategies)\//.test(f))
      .filter((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .some((line) => picks.test(line)),
      )
      .map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });
});

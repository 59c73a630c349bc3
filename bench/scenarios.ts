/**
 * Every measured scenario, in the order of one round, and the selection `--only` makes. What a scenario is:
 * ./scenario.ts; the full refreshes: ./scenarios-full.ts; the merges: ./scenarios-merge.ts; the other tools: ./scenarios-tools.ts.
 */
import { subsetSql } from './dataset.ts';
import { MAIN, type BenchContext, type Scenario } from './scenario.ts';
import { exchangeScenario, overheadRows, overheadScenarios, smallRows, truncateInsertScenario, truncateInsertSmallScenario } from './scenarios-full.ts';
import { firstMergeScenario, incrementalScenario, mergeFloorScenario, nothingChangedScenario } from './scenarios-merge.ts';
import { pgloaderScenario, pipeScenario, startupScenario } from './scenarios-tools.ts';
import { sql } from './server.ts';

/** Every scenario, in the order of one round. */
export async function allScenarios(rows: number, options: { pgloader?: boolean } = {}): Promise<Scenario[]> {
  const small = smallRows(rows);
  const overhead = overheadRows(rows);
  const createSubset =
    (table: string, n: number) =>
    async (ctx: BenchContext): Promise<void> => {
      const exists = await sql<{ ok: boolean }>(ctx.urls.source, [`SELECT to_regclass('${table}') IS NOT NULL AS ok`]);
      if (!exists[0]?.ok) await sql(ctx.urls.source, subsetSql(ctx.shape, table, MAIN, n));
    };
  const overheadSource = 'public.orders_overhead';
  const smallShare = small / rows;
  const overheadShare = overhead / rows;
  return [
    pipeScenario(),
    await exchangeScenario(),
    await truncateInsertScenario(),
    await firstMergeScenario(),
    await incrementalScenario('delete_insert', 1, 0, rows),
    await incrementalScenario('upsert', 1, 1, rows),
    mergeFloorScenario(1, 5),
    await incrementalScenario('delete_insert', 0.1, 2, rows),
    mergeFloorScenario(0.1, 6),
    await incrementalScenario('delete_insert', 10, 3, rows),
    mergeFloorScenario(10, 7),
    await nothingChangedScenario(overheadSource, overheadShare, createSubset(overheadSource, overhead)),
    // 0.1% of `rows` changed rows, as a share of the small table.
    await incrementalScenario('delete_insert', (0.1 * rows) / small, 4, rows, small),
    await truncateInsertSmallScenario(small, smallShare, createSubset('public.orders_small', small)),
    ...(await overheadScenarios(rows, overheadSource, overhead, overheadShare, createSubset(overheadSource, overhead))),
    startupScenario(),
    ...(options.pgloader ? [pgloaderScenario()] : []),
  ];
}

/** Scenarios named (or grouped) by `only`; the pipe always comes along, every ratio is to it. */
export function selectScenarios(all: readonly Scenario[], only: readonly string[] | undefined): Scenario[] {
  if (!only) return [...all];
  const known = new Set(all.flatMap((s) => [s.name, ...s.groups]));
  const unknown = only.filter((o) => !known.has(o));
  if (unknown.length > 0) throw new Error(`--only: unknown scenario(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  return all.filter((s) => s.name === 'pipe' || only.includes(s.name) || s.groups.some((g) => only.includes(g)));
}

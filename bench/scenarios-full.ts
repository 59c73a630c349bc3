/** The full refreshes: exchange and truncate_insert of the main table, of a smaller one, and the runner-overhead pipelines. */
import { MAIN, pgferryScenario, type BenchContext, type DiskShare, type Scenario } from './scenario.ts';

/**
 * The disk share of a full refresh of `share` times the main table: its target (and its own source copy, unless
 * it reads the main table) and, while it runs, staging, plus for truncate_insert the truncated target's old
 * files until the commit.
 */
function refreshDisk(overwrite: 'exchange' | 'truncate_insert', share = 1, ownSource = false): DiskShare {
  return { copies: share * (ownSource ? 2 : 1), during: share * (overwrite === 'exchange' ? 1 : 2) };
}

/** Rows of the smaller full refresh whose peak RSS is compared with the main one. */
export function smallRows(rows: number): number {
  return Math.max(1, Math.floor(rows / 5));
}

/** Rows of the runner-overhead pipelines. */
export function overheadRows(rows: number): number {
  return Math.min(100_000, rows);
}

/** Rows per chunk of the many-chunks overhead pipeline (200 chunks of the overhead table). */
export function overheadChunkRows(rows: number): number {
  return Math.max(1, Math.floor(overheadRows(rows) / 200));
}

/** full_refresh / exchange of the main table. */
export function exchangeScenario(): Promise<Scenario> {
  return pgferryScenario(
    {
      name: 'exchange',
      groups: ['full'],
      description: 'full_refresh / exchange into an existing target with PK + 1 index',
      tables: { source: MAIN, target: 'public.orders_exchange' },
      disk: refreshDisk('exchange'),
    },
    { name: 'bench_exchange', strategy: { mode: 'full_refresh', overwrite_type: 'exchange' } },
  );
}

/** full_refresh / truncate_insert of the main table. */
export function truncateInsertScenario(): Promise<Scenario> {
  return pgferryScenario(
    {
      name: 'truncate_insert',
      groups: ['full', 'rss'],
      description: 'full_refresh / truncate_insert into a target with PK + 1 index',
      tables: { source: MAIN, target: 'public.orders_truncate' },
      disk: refreshDisk('truncate_insert'),
    },
    { name: 'bench_truncate_insert', strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' } },
  );
}

/** full_refresh / truncate_insert of `small` rows (`smallShare` of the main table), copied by `createSource`, for peak RSS. */
export function truncateInsertSmallScenario(small: number, smallShare: number, createSource: (ctx: BenchContext) => Promise<void>): Promise<Scenario> {
  return pgferryScenario(
    {
      name: 'truncate_insert_small',
      groups: ['rss'],
      description: `full_refresh / truncate_insert of ${small.toLocaleString('en-US')} rows (peak RSS against the main table)`,
      tables: { source: 'public.orders_small', target: 'public.orders_small' },
      disk: refreshDisk('truncate_insert', smallShare, true),
    },
    { name: 'bench_truncate_insert_small', strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' } },
    { setup: createSource },
  );
}

/**
 * The runner-overhead pipelines over `overheadSource` (`overhead` rows, `overheadShare` of the main table, copied
 * by `createSource`): the same rows in many chunks, one at a time, and in one chunk.
 */
export async function overheadScenarios(
  rows: number,
  overheadSource: string,
  overhead: number,
  overheadShare: number,
  createSource: (ctx: BenchContext) => Promise<void>,
): Promise<Scenario[]> {
  return [
    await pgferryScenario(
      {
        name: 'overhead_many_chunks',
        groups: ['overhead'],
        description: `${overhead.toLocaleString('en-US')} rows in chunks of ${overheadChunkRows(rows)} rows, one at a time`,
        tables: { source: overheadSource, target: 'public.orders_overhead_many' },
        disk: refreshDisk('truncate_insert', overheadShare, true),
      },
      {
        name: 'bench_overhead_many',
        strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' },
        options: { chunk_rows: overheadChunkRows(rows), max_parallel_chunks: 1 },
      },
      { setup: createSource },
    ),
    await pgferryScenario(
      {
        name: 'overhead_one_chunk',
        groups: ['overhead'],
        description: `the same ${overhead.toLocaleString('en-US')} rows in one chunk`,
        tables: { source: overheadSource, target: 'public.orders_overhead_one' },
        disk: refreshDisk('truncate_insert', overheadShare, true),
      },
      {
        name: 'bench_overhead_one',
        strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' },
        options: { chunk_rows: 1_000_000, max_parallel_chunks: 1 },
      },
      { setup: createSource },
    ),
  ];
}

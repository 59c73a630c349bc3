/**
 * The incremental merges: after 0.1%, 1% and 10% changed (the growth curve), the same changes in a smaller
 * table, the floor of each merge without pgferry, the run that finds nothing changed, and the first run.
 */
import { join } from 'node:path';
import { changeSql, columnList, subsetSql, targetSql } from './dataset.ts';
import { measure } from './measure.ts';
import { ROOT, runPgferry } from './pgferry.ts';
import { pipeStatements, runPipe } from './pipe.ts';
import { MAIN, pgferryScenario, type BenchContext, type DiskShare, type Scenario } from './scenario.ts';
import { checkpoint, sql } from './server.ts';

/**
 * The merge of as many changed rows as delete_insert_0.1pct, in a table of smallRows(rows) rows: with the
 * same changes in a fifth of the table, the time should stay (it grows with the changed rows, not the table).
 */
export const SMALL_TABLE_MERGE = 'delete_insert_same_rows_small_table';

/**
 * What a merge after `percent`% of the rows changed in a table of `share` times the main one needs, for its
 * table names, its change and its disk: every `modulus`-th row changes; it keeps its source copy and its target,
 * each with the dead rows of one change (VACUUM makes their space reusable), and stages the changed rows.
 */
function changeOf(percent: number, share = 1): { label: string; modulus: number; disk: DiskShare } {
  return {
    label: `${String(percent).replace('.', '_')}pct`,
    modulus: Math.round(100 / percent),
    disk: { copies: 2 * share * (1 + percent / 100), during: (share * percent) / 100 },
  };
}

/**
 * An incremental merge after `percent`% of the source rows changed. Each incremental scenario reads its own
 * copy of the source table, so the timed run reads exactly its own changes and nothing another scenario did.
 */
export function incrementalScenario(policy: 'delete_insert' | 'upsert', percent: number, index: number, rows: number, tableRows?: number): Promise<Scenario> {
  const change = changeOf(percent, (tableRows ?? rows) / rows);
  const label = tableRows === undefined ? change.label : 'same_rows_small_table';
  const modulus = change.modulus;
  const source = `public.orders_${policy}_${label}`;
  const target = `public.orders_${policy}_${label}`;
  return pgferryScenario(
    {
      name: tableRows === undefined ? `${policy}_${percent}pct` : SMALL_TABLE_MERGE,
      groups: ['incremental', policy === 'delete_insert' ? 'growth' : 'upsert'],
      description: `incremental_merge / ${policy}, column cursor updated_at, ${tableRows === undefined ? `after ${percent}% of the rows changed` : `after as many rows changed as in delete_insert_0.1pct, in a table of ${tableRows.toLocaleString('en-US')} rows`}`,
      tables: { source, target },
      disk: change.disk,
    },
    {
      name: `bench_${policy}_${label}`,
      strategy: { mode: 'incremental_merge', merge_policy: policy, unique_key: ['id'] },
      options: { incremental_strategy: 'column', incremental_column: 'updated_at' },
    },
    {
      checkpointFirst: true,
      async setup(ctx, self) {
        await sql(ctx.urls.source, [`DROP TABLE IF EXISTS ${source}`, ...subsetSql(ctx.shape, source, MAIN, tableRows ?? ctx.rows)]);
        ctx.log(`  ${self.name}: initial full load (untimed)`);
        await runPgferry(self.pipelineFile as string);
      },
      async prepare(ctx, round) {
        await sql(ctx.urls.source, [changeSql(ctx.shape, source, modulus, (round * 7 + index * 3) % modulus)]);
      },
      async cleanup(ctx) {
        await sql(ctx.urls.source, [`VACUUM ANALYZE ${source}`]);
      },
    },
  );
}

/** Name of the merge without pgferry after `percent`% changed (see mergeFloorScenario). */
function mergeFloorName(percent: number): string {
  return `merge_floor_${percent}pct`;
}

/** The 1% merge without pgferry. */
export const MERGE_FLOOR = mergeFloorName(1);

/** The floors of the growth curve's three merges, 0.1%, 1% and 10% changed. */
export const MERGE_FLOORS = [0.1, 1, 10].map(mergeFloorName);

/**
 * The least work of a merge after `percent`% of the rows changed, without pgferry, by the pipe's tools (psql,
 * or pg-copy-streams): the changed rows (updated_at above the target's greatest, read before the run) piped
 * into an unlogged table without indexes, then one `INSERT ... ON CONFLICT (id) DO UPDATE` of every column, in
 * key order. No state, no plan, no checks, no process of ours. What any tool that applies the change in one
 * transaction has the server do; the merges' time over it is pgferry's own. Its own source copy and target,
 * changed and checkpointed as the merges are.
 */
export function mergeFloorScenario(percent: number, index: number): Scenario {
  const { label, modulus, disk } = changeOf(percent);
  const table = `public.orders_merge_floor_${label}`;
  const staging = `public.orders_merge_floor_${label}_staging`;
  let cursor = '';
  return {
    name: mergeFloorName(percent),
    groups: ['incremental', 'floor'],
    description: `the ${percent}% merge without pgferry, by the pipe's tools: the changed rows piped into an unlogged table without indexes, then one INSERT ... ON CONFLICT (id) DO UPDATE in key order (what any tool merging in one transaction has the server do)`,
    kind: 'pipe',
    tables: { source: table, target: table },
    disk,
    async setup(ctx) {
      await sql(ctx.urls.source, [`DROP TABLE IF EXISTS ${table}`, ...subsetSql(ctx.shape, table, MAIN, ctx.rows)]);
      await sql(ctx.urls.target, [...targetSql(ctx.shape, table), `DROP TABLE IF EXISTS ${staging}`, `CREATE UNLOGGED TABLE ${staging} (LIKE ${table})`]);
      ctx.log(`  ${this.name}: initial load by the pipe (untimed)`);
      await runPipe(ctx.pipe, ctx.urls, pipeStatements(ctx.shape, table, table));
      await sql(ctx.urls.target, [`VACUUM ANALYZE ${table}`]);
    },
    async prepare(ctx, round) {
      await checkpoint(ctx.urls.target);
      await sql(ctx.urls.source, [changeSql(ctx.shape, table, modulus, (round * 7 + index * 3) % modulus)]);
      const last = await sql<{ t: string }>(ctx.urls.target, [`SELECT max(updated_at)::text AS t FROM ${table}`]);
      cursor = last[0]?.t ?? '-infinity';
    },
    async run(ctx) {
      const columns = columnList(ctx.shape);
      const sets = ctx.shape.columns
        .map(([name]) => name)
        .filter((name) => name !== 'id')
        .map((name) => `${name} = EXCLUDED.${name}`);
      const merge = `INSERT INTO ${table} (${columns}) SELECT ${columns} FROM ${staging} ORDER BY id ON CONFLICT (id) DO UPDATE SET ${sets.join(', ')}`;
      const copy = pipeStatements(ctx.shape, table, staging, `updated_at > '${cursor}'::timestamptz`);
      const m = await runPipe(ctx.pipe, ctx.urls, { ...copy, then: merge });
      const staged = await sql<{ n: string }>(ctx.urls.target, [`SELECT count(*) AS n FROM ${staging}`]);
      return { wallMs: m.wallMs, peakRssKb: m.peakRssKb, rows: Number(staged[0]?.n ?? 0) };
    },
    async cleanup(ctx) {
      await sql(ctx.urls.target, [`TRUNCATE ${staging}`, `VACUUM ANALYZE ${table}`]);
      await sql(ctx.urls.source, [`VACUUM ANALYZE ${table}`]);
    },
  };
}

/** The incremental run of the growth curve that finds nothing changed: what every run costs besides its rows. */
export const NOTHING_CHANGED = 'delete_insert_nothing_changed';

/**
 * An incremental merge when no source row changed since the last run: the window holds only the row at the
 * stored cursor (the inclusive lower bound), so the run is its fixed cost: process start, plan, one chunk,
 * apply, finalize, and their connections. On the runner-overhead table (nothing in it grows with the table
 * but a sampled estimate: `not_the_table` shows the same rows cost the same in a table five times larger).
 */
export function nothingChangedScenario(source: string, share: number, createSource: (ctx: BenchContext) => Promise<void>): Promise<Scenario> {
  const target = 'public.orders_unchanged';
  return pgferryScenario(
    {
      name: NOTHING_CHANGED,
      groups: ['incremental', 'growth'],
      description: 'incremental_merge / delete_insert, column cursor updated_at, when no row changed since the last run (the fixed cost of a run)',
      tables: { source, target },
      // The overhead table (counted here too, though shared) and the target.
      disk: { copies: 2 * share, during: 0 },
    },
    {
      name: 'bench_nothing_changed',
      strategy: { mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['id'] },
      options: { incremental_strategy: 'column', incremental_column: 'updated_at' },
    },
    {
      async setup(ctx, self) {
        await createSource(ctx);
        ctx.log(`  ${self.name}: initial full load (untimed)`);
        await runPgferry(self.pipelineFile as string);
      },
    },
  );
}

/**
 * The first run of an incremental merge (no stored cursor: every row) into an existing, empty target with a
 * primary key and an index, as a user creates it before the first run. Before each run the target is
 * created again and the cursor forgotten (`pgferry state reset`).
 */
export function firstMergeScenario(): Promise<Scenario> {
  const target = 'public.orders_first_merge';
  return pgferryScenario(
    {
      name: 'first_merge',
      groups: ['first'],
      description: 'incremental_merge / delete_insert, first run (no cursor) into an existing empty target with PK + 1 index',
      tables: { source: MAIN, target },
      // The loaded target; during a run, staging (the old target is dropped before it).
      disk: { copies: 1, during: 1 },
    },
    {
      name: 'bench_first_merge',
      strategy: { mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['id'] },
      options: { incremental_strategy: 'column', incremental_column: 'updated_at' },
    },
    {
      async prepare(ctx, _round, self) {
        await sql(ctx.urls.target, targetSql(ctx.shape, target));
        const reset = await measure(process.execPath, [join(ROOT, 'bin/pgferry.js'), 'state', 'reset', self.pipelineFile as string]);
        if (reset.code !== 0) throw new Error(`pgferry state reset failed (exit ${reset.code}): ${reset.stderr.slice(-2000)}`);
      },
    },
  );
}

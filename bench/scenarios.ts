/**
 * The measured scenarios. Each has untimed `setup` (once), `prepare` (before every timed run) and `cleanup`
 * (after it) steps around one timed `run`, so the bench can interleave them: A B C A B C ...
 */
import { changeSql, columnList, subsetSql, targetSql, type Shape } from './dataset.ts';
import type { PipeKind } from './options.ts';
import { join } from 'node:path';
import { measure, type Measured } from './measure.ts';
import { ROOT, runPgferry, writePipeline, type PipelineSpec } from './pgferry.ts';
import { runPgloader } from './pgloader.ts';
import { pipeStatements, runPipe } from './pipe.ts';
import { checkpoint, sql } from './server.ts';

/** What every scenario shares. */
export interface BenchContext {
  readonly urls: { readonly source: string; readonly target: string };
  /** Directory of the pipeline files. */
  readonly dir: string;
  /** Rows of the main source table `public.orders`. */
  readonly rows: number;
  /** Its columns (`--table`). */
  readonly shape: Shape;
  readonly pipe: PipeKind;
  readonly log: (line: string) => void;
}

/** One timed run. */
export interface Sample {
  /** Wall time of the process (pipe: both ends; pgferry: `node bin/pgferry.js run`, start to exit). */
  readonly wallMs: number;
  /** pgferry's own durationMs (the run, without process start-up and module loading). */
  readonly runMs?: number;
  readonly peakRssKb?: number;
  /** Rows moved: all rows of a full load, the changed rows of an incremental one. */
  readonly rows: number;
  readonly chunks?: number;
  /** 1-minute load average when the run ended (the machine may be shared). */
  readonly load1?: number;
}

/** A measured scenario. */
export interface Scenario {
  readonly name: string;
  /** Names `--only` also accepts for this scenario. */
  readonly groups: readonly string[];
  readonly description: string;
  readonly kind: 'pipe' | 'pgferry' | 'pgloader';
  /** A failed run drops the scenario from the later rounds instead of ending the bench (other tools than ours). */
  readonly optional?: boolean;
  /** Source table (source database) and target table (target database) compared by `--verify`. */
  readonly tables: { readonly source: string; readonly target: string };
  /** The disk it takes, in copies of the main table with its indexes (summed by peakCopies in bench/disk.ts). */
  readonly disk: DiskShare;
  setup(ctx: BenchContext): Promise<void>;
  prepare(ctx: BenchContext, round: number): Promise<void>;
  run(ctx: BenchContext): Promise<Sample>;
  cleanup(ctx: BenchContext): Promise<void>;
  /** The pipeline file, once set up (pgferry scenarios). */
  pipelineFile?: string;
}

/**
 * Copies of the main source table (with its indexes) a scenario keeps in the two databases from its setup on
 * (`copies`: its own source copy, its target, the dead rows its merges leave), and what a run of it adds
 * while in flight (`during`: staging, the old files of a truncated target until the commit).
 */
export interface DiskShare {
  readonly copies: number;
  readonly during: number;
}

/**
 * The disk share of a full refresh of `share` times the main table: its target (and its own source copy, unless
 * it reads the main table) and, while it runs, staging, plus for truncate_insert the truncated target's old
 * files until the commit.
 */
function refreshDisk(overwrite: 'exchange' | 'truncate_insert', share = 1, ownSource = false): DiskShare {
  return { copies: share * (ownSource ? 2 : 1), during: share * (overwrite === 'exchange' ? 1 : 2) };
}

const MAIN = 'public.orders';

/** Rows of the smaller full refresh whose peak RSS is compared with the main one. */
export function smallRows(rows: number): number {
  return Math.max(1, Math.floor(rows / 5));
}

/**
 * The merge of as many changed rows as delete_insert_0.1pct, in a table of smallRows(rows) rows: with the
 * same changes in a fifth of the table, the time should stay (it grows with the changed rows, not the table).
 */
export const SMALL_TABLE_MERGE = 'delete_insert_same_rows_small_table';

/** Rows of the runner-overhead pipelines. */
export function overheadRows(rows: number): number {
  return Math.min(100_000, rows);
}

/** Rows per chunk of the many-chunks overhead pipeline (200 chunks of the overhead table). */
export function overheadChunkRows(rows: number): number {
  return Math.max(1, Math.floor(overheadRows(rows) / 200));
}

async function pgferryScenario(
  base: Omit<Scenario, 'kind' | 'setup' | 'prepare' | 'run' | 'cleanup'>,
  spec: Omit<PipelineSpec, 'sourceTable' | 'targetTable'>,
  hooks: {
    /**
     * CHECKPOINT before `prepare` instead of after it: the source change and the run then fall in one
     * checkpoint cycle, as when a run follows the changes within minutes. After it, the run's first read of
     * the changed rows would pay a full-page image per page for setting hint bits (data checksums on).
     */
    checkpointFirst?: boolean;
    setup?: (ctx: BenchContext, self: Scenario) => Promise<void>;
    prepare?: (ctx: BenchContext, round: number, self: Scenario) => Promise<void>;
    cleanup?: (ctx: BenchContext) => Promise<void>;
  } = {},
): Promise<Scenario> {
  const bare = (t: string): string => t.replace(/^public\./, '');
  const scenario: Scenario = {
    ...base,
    kind: 'pgferry',
    async setup(ctx) {
      await sql(ctx.urls.target, targetSql(ctx.shape, base.tables.target));
      this.pipelineFile = await writePipeline(ctx.dir, { ...spec, sourceTable: bare(base.tables.source), targetTable: bare(base.tables.target) }, ctx.urls);
      await hooks.setup?.(ctx, this);
    },
    async prepare(ctx, round) {
      if (hooks.checkpointFirst) await checkpoint(ctx.urls.target);
      await hooks.prepare?.(ctx, round, this);
      if (!hooks.checkpointFirst) await checkpoint(ctx.urls.target);
    },
    async run() {
      const r = await runPgferry(this.pipelineFile as string);
      return { wallMs: r.wallMs, runMs: r.summary.durationMs, peakRssKb: r.peakRssKb, rows: r.summary.rowsExtracted, chunks: r.summary.chunks };
    },
    async cleanup(ctx) {
      // So autovacuum never holds a lock the next timed run waits for (deadlock_timeout, 1 s, before it yields).
      await sql(ctx.urls.target, [`VACUUM ANALYZE ${base.tables.target}`]);
      await hooks.cleanup?.(ctx);
    },
  };
  return scenario;
}

/**
 * Another tool loading the main table into `target` of the target database (PK + index, like pgferry's targets),
 * emptied and checkpointed before each run: the reference pipe, and pgloader.
 */
function toolScenario(
  base: Pick<Scenario, 'name' | 'groups' | 'description' | 'kind' | 'optional'>,
  target: string,
  load: (ctx: BenchContext) => Promise<Measured>,
): Scenario {
  return {
    ...base,
    tables: { source: MAIN, target },
    // A table like the main one; emptied by a TRUNCATE of its own before each run.
    disk: { copies: 1, during: 0 },
    async setup(ctx) {
      await sql(ctx.urls.target, targetSql(ctx.shape, target));
    },
    async prepare(ctx) {
      await sql(ctx.urls.target, [`TRUNCATE ${target}`]);
      await checkpoint(ctx.urls.target);
    },
    async run(ctx) {
      const m = await load(ctx);
      return { wallMs: m.wallMs, peakRssKb: m.peakRssKb, rows: ctx.rows };
    },
    async cleanup(ctx) {
      await sql(ctx.urls.target, [`VACUUM ANALYZE ${target}`]);
    },
  };
}

/** The plain COPY pipe into `public.orders_pipe`. */
function pipeScenario(): Scenario {
  const target = 'public.orders_pipe';
  return toolScenario(
    { name: 'pipe', groups: ['pipe'], description: 'binary COPY TO STDOUT | COPY FROM STDIN into a logged table with PK + 1 index', kind: 'pipe' },
    target,
    (ctx) => runPipe(ctx.pipe, ctx.urls, pipeStatements(ctx.shape, MAIN, target)),
  );
}

/** pgloader into `public.orders` of the target database (pgloader loads a table into the same name); it also truncates. */
function pgloaderScenario(): Scenario {
  return toolScenario(
    { name: 'pgloader', groups: ['pgloader'], description: 'pgloader, data only, into an existing table with PK + 1 index (for comparison; no target)', kind: 'pgloader', optional: true },
    MAIN,
    (ctx) => runPgloader(ctx.dir, ctx.urls, MAIN),
  );
}

/** `pgferry --help`: what every run pays before its first query (node, tsx, loading the CLI's modules). */
function startupScenario(): Scenario {
  return {
    name: 'cli_startup',
    groups: ['overhead', 'startup'],
    description: 'node bin/pgferry.js --help: process start-up and module loading, no run',
    kind: 'pgferry',
    tables: { source: '', target: '' },
    disk: { copies: 0, during: 0 },
    async setup() {},
    async prepare() {},
    async run() {
      const m = await measure(process.execPath, [join(ROOT, 'bin/pgferry.js'), '--help']);
      if (m.code !== 0) throw new Error(`pgferry --help failed (exit ${m.code}): ${m.stderr.slice(-2000)}`);
      return { wallMs: m.wallMs, peakRssKb: m.peakRssKb, rows: 0 };
    },
    async cleanup() {},
  };
}

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
function incrementalScenario(policy: 'delete_insert' | 'upsert', percent: number, index: number, rows: number, tableRows?: number): Promise<Scenario> {
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
function mergeFloorScenario(percent: number, index: number): Scenario {
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
      const sets = ctx.shape.columns.map(([name]) => name).filter((name) => name !== 'id').map((name) => `${name} = EXCLUDED.${name}`);
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
function nothingChangedScenario(source: string, share: number, createSource: (ctx: BenchContext) => Promise<void>): Promise<Scenario> {
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
function firstMergeScenario(): Promise<Scenario> {
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

/** Every scenario, in the order of one round. */
export async function allScenarios(rows: number, options: { pgloader?: boolean } = {}): Promise<Scenario[]> {
  const small = smallRows(rows);
  const overhead = overheadRows(rows);
  const createSubset = (table: string, n: number) => async (ctx: BenchContext): Promise<void> => {
    const exists = await sql<{ ok: boolean }>(ctx.urls.source, [`SELECT to_regclass('${table}') IS NOT NULL AS ok`]);
    if (!exists[0]?.ok) await sql(ctx.urls.source, subsetSql(ctx.shape, table, MAIN, n));
  };
  const overheadSource = 'public.orders_overhead';
  const smallShare = small / rows;
  const overheadShare = overhead / rows;
  return [
    pipeScenario(),
    await pgferryScenario(
      { name: 'exchange', groups: ['full'], description: 'full_refresh / exchange into an existing target with PK + 1 index', tables: { source: MAIN, target: 'public.orders_exchange' }, disk: refreshDisk('exchange') },
      { name: 'bench_exchange', strategy: { mode: 'full_refresh', overwrite_type: 'exchange' } },
    ),
    await pgferryScenario(
      { name: 'truncate_insert', groups: ['full', 'rss'], description: 'full_refresh / truncate_insert into a target with PK + 1 index', tables: { source: MAIN, target: 'public.orders_truncate' }, disk: refreshDisk('truncate_insert') },
      { name: 'bench_truncate_insert', strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' } },
    ),
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
    await pgferryScenario(
      { name: 'truncate_insert_small', groups: ['rss'], description: `full_refresh / truncate_insert of ${small.toLocaleString('en-US')} rows (peak RSS against the main table)`, tables: { source: 'public.orders_small', target: 'public.orders_small' }, disk: refreshDisk('truncate_insert', smallShare, true) },
      { name: 'bench_truncate_insert_small', strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' } },
      { setup: createSubset('public.orders_small', small) },
    ),
    await pgferryScenario(
      { name: 'overhead_many_chunks', groups: ['overhead'], description: `${overhead.toLocaleString('en-US')} rows in chunks of ${overheadChunkRows(rows)} rows, one at a time`, tables: { source: overheadSource, target: 'public.orders_overhead_many' }, disk: refreshDisk('truncate_insert', overheadShare, true) },
      { name: 'bench_overhead_many', strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' }, options: { chunk_rows: overheadChunkRows(rows), max_parallel_chunks: 1 } },
      { setup: createSubset(overheadSource, overhead) },
    ),
    await pgferryScenario(
      { name: 'overhead_one_chunk', groups: ['overhead'], description: `the same ${overhead.toLocaleString('en-US')} rows in one chunk`, tables: { source: overheadSource, target: 'public.orders_overhead_one' }, disk: refreshDisk('truncate_insert', overheadShare, true) },
      { name: 'bench_overhead_one', strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' }, options: { chunk_rows: 1_000_000, max_parallel_chunks: 1 } },
      { setup: createSubset(overheadSource, overhead) },
    ),
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

/**
 * The soak: writers keep changing the source while pgferry runs each pipeline again and again. After
 * every run the target must be a consistent state (checks.ts); after the writers stop and one last run,
 * the target must equal the source exactly. Shared by `npm run soak` (long) and the test suite (short).
 *
 * The exact check for merge: a merge never deletes (source deletes stay in the target, as documented), so
 * the target restricted to the source's keys must equal the source row for row, and every other target
 * key must be one the writers deleted (and its row a committed version, like every target row).
 */
import type pg from 'pg';
import type { PipelineConfig } from '../../lib/config/index.ts';
import { runLocal } from '../../lib/local/runner.ts';
import type { RunSummary } from '../../lib/state/types.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import {
  checkBetweenRuns,
  deletedIds,
  multisetDifference,
  notCommittedVersions,
  sourceSnapshot,
  tableHashes,
  targetSnapshot,
  type Snapshot,
} from './checks.ts';
import { createSoakTable, emptyWriterStats, soakTable, writerLoop, type SoakTable, type WriterStats } from './writers.ts';

/** One pipeline of the soak: a cursor and a load strategy. */
export interface Scenario {
  readonly name: string;
  readonly cursor: 'column' | 'xmin';
  readonly load: 'delete_insert' | 'upsert' | 'only_new_rows';
}

/** Every combination the soak covers. */
export const SCENARIOS: readonly Scenario[] = [
  { name: 'merge_column', cursor: 'column', load: 'delete_insert' },
  { name: 'upsert_column', cursor: 'column', load: 'upsert' },
  { name: 'append_column', cursor: 'column', load: 'only_new_rows' },
  { name: 'merge_xmin', cursor: 'xmin', load: 'delete_insert' },
  { name: 'upsert_xmin', cursor: 'xmin', load: 'upsert' },
  { name: 'append_xmin', cursor: 'xmin', load: 'only_new_rows' },
];

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** How long the writers write. */
  readonly durationMs: number;
  /** Source and target databases (empty; the soak creates its tables). */
  readonly sourceUrl: string;
  readonly targetUrl: string;
  /** Opens a client; the soak closes what it opens. */
  readonly connect: (url: string) => Promise<pg.Client>;
  /** @default SCENARIOS */
  readonly scenarios?: readonly Scenario[];
  /** Writers per scenario with short transactions. @default 2 */
  readonly writers?: number;
  /** Writers per scenario whose transactions stay open across several runs. @default 1 */
  readonly longWriters?: number;
  /** How long a long transaction stays open (random in the range). @default 1500-5000 ms */
  readonly longMs?: readonly [number, number];
  /** Rows seeded per table. @default 2000 */
  readonly seedRows?: number;
  /** Column cursors' lookback; must exceed the longest writer transaction. @default 30 */
  readonly lookbackSeconds?: number;
  /** `chunk_rows` of the pipelines. @default 400 */
  readonly chunkRows?: number;
  /** Every n-th iteration starts two runs at once: one must be skipped (LeaseHeldError) unless they did not overlap. @default 5 */
  readonly overlapEvery?: number;
  /** The writers go on past `durationMs` until every pipeline has run this often meanwhile (at most 3 x the duration). @default 0 */
  readonly minRuns?: number;
  /** Progress lines. @default none */
  readonly log?: (line: string) => void;
}

/** What happened to one scenario. */
export interface ScenarioReport {
  readonly name: string;
  runs: number;
  succeeded: number;
  skipped: number;
  failed: number;
  rowsExtracted: number;
  rowsInserted: number;
  rowsDeleted: number;
  chunks: number;
  bytes: number;
  maxRunMs: number;
  totalRunMs: number;
  /** Target rows verified between runs (summed over checks). */
  rowsChecked: number;
  writers: WriterStats;
  /** After the last run: rows in the source and the target, and deleted source rows the target keeps (merge). */
  final?: { sourceRows: number; targetRows: number; deletedKept: number; exact: boolean };
}

/** The soak's outcome; `problems` empty means every check passed. */
export interface SoakReport {
  readonly durationMs: number;
  readonly scenarios: ScenarioReport[];
  readonly problems: string[];
}

interface Context {
  readonly scenario: Scenario;
  readonly table: SoakTable;
  readonly config: PipelineConfig;
  readonly report: ScenarioReport;
  readonly source: pg.Client;
  readonly target: pg.Client;
  readonly problem: (message: string) => void;
  previous: Snapshot;
  before: Snapshot;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function configFor(scenario: Scenario, table: SoakTable, o: SoakOptions): PipelineConfig {
  const options =
    scenario.cursor === 'column'
      ? { incremental_strategy: 'column', incremental_column: 'updated_at', lookback: `${o.lookbackSeconds ?? 30} seconds` }
      : { incremental_strategy: 'xmin' };
  const strategy =
    scenario.load === 'only_new_rows'
      ? { mode: 'incremental_append', only_new_rows: true, unique_key: ['id'] }
      : { mode: 'incremental_merge', unique_key: ['id'], merge_policy: scenario.load };
  return pipelineConfig(o.sourceUrl, o.targetUrl, {
    name: `soak_${scenario.name}`,
    source: { table: { schema: 'public', name: table.name } },
    options: { ...options, chunk_rows: o.chunkRows ?? 400, max_parallel_chunks: 2 },
    sink: { table: { schema: 'public', name: table.name } },
    strategy,
  });
}

/** Rows of the pipeline's staging tables still present (runs finished: there must be none). */
async function stagingLeft(target: pg.Client, pipeline: string): Promise<number> {
  const r = await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class c WHERE starts_with(obj_description(c.oid, 'pg_class'), $1)`, [
    `pgferry staging: pipeline=${pipeline} run=`,
  ]);
  return r.rows[0]?.n ?? 0;
}

function account(ctx: Context, s: RunSummary, ms: number): void {
  const r = ctx.report;
  r.runs += 1;
  r.maxRunMs = Math.max(r.maxRunMs, ms);
  r.totalRunMs += ms;
  if (s.status === 'skipped') {
    r.skipped += 1;
    return;
  }
  if (s.status === 'failed') {
    r.failed += 1;
    ctx.problem(`run ${s.runId} failed: ${s.error?.name}: ${s.error?.message}`);
    return;
  }
  r.succeeded += 1;
  r.rowsExtracted += s.rowsExtracted;
  r.rowsInserted += s.rowsInserted;
  r.rowsDeleted += s.rowsDeleted;
  r.chunks += s.chunks;
  r.bytes += s.bytes;
}

async function timed(config: PipelineConfig, runId: string): Promise<{ summary: RunSummary; ms: number }> {
  const started = Date.now();
  const summary = await runLocal(config, { runId });
  return { summary, ms: Date.now() - started };
}

/** After the run(s): state, staging, and the consistency rules of checks.ts. */
async function checkState(ctx: Context, succeeded: RunSummary[]): Promise<void> {
  const name = ctx.config.name;
  const state = await ctx.target.query(`SELECT cursor, lease_run_id FROM pgferry.pipeline_state WHERE pipeline = $1`, [name]);
  if (state.rows[0]?.lease_run_id) ctx.problem(`${name}: lease still held by ${state.rows[0].lease_run_id} after the runs ended`);
  const last = succeeded.at(-1);
  if (last && JSON.stringify(state.rows[0]?.cursor) !== JSON.stringify(last.cursorAfter)) {
    ctx.problem(`${name}: stored cursor ${JSON.stringify(state.rows[0]?.cursor)} is not the last run's ${JSON.stringify(last.cursorAfter)}`);
  }
  const left = await stagingLeft(ctx.target, name);
  if (left > 0) ctx.problem(`${name}: ${left} staging table(s) left after the run`);
  const after = await sourceSnapshot(ctx.source, ctx.table);
  const { rows: target, duplicates } = await targetSnapshot(ctx.target, ctx.table);
  if (duplicates.length > 0) ctx.problem(`${name}: duplicate keys in the target: ${duplicates.slice(0, 5).join(', ')}`);
  for (const bad of await notCommittedVersions(ctx.source, ctx.table, target)) ctx.problem(`${name}: not a committed source version: ${bad}`);
  const uppers = succeeded.map((s) => s.window?.upper).filter((u): u is string => typeof u === 'string');
  const xminUpper = ctx.scenario.cursor === 'xmin' ? uppers.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)).at(-1) : undefined;
  if (ctx.scenario.cursor === 'xmin' && xminUpper === undefined && succeeded.length > 0) ctx.problem(`${name}: xmin run without an upper bound`);
  if (succeeded.length === 0) {
    ctx.previous = target;
    ctx.before = after;
    return;
  }
  const rules = checkBetweenRuns({ before: ctx.before, after, target, previous: ctx.previous, ...(xminUpper ? { xminUpper } : {}) });
  for (const p of rules) ctx.problem(`${name} after ${succeeded.map((s) => s.runId).join('+')}: ${p}`);
  ctx.report.rowsChecked += target.size;
  ctx.previous = target;
  ctx.before = after;
}

/** Runs the pipeline again and again until `stopped()`, checking after each iteration. */
async function pipelineLoop(ctx: Context, o: SoakOptions, stopped: () => boolean): Promise<void> {
  let iteration = 0;
  const every = o.overlapEvery ?? 5;
  while (!stopped()) {
    iteration += 1;
    const id = `soak-${ctx.scenario.name}-${iteration}`;
    const overlap = every > 0 && iteration % every === 0;
    const results = overlap ? await Promise.all([timed(ctx.config, `${id}a`), timed(ctx.config, `${id}b`)]) : [await timed(ctx.config, id)];
    for (const r of results) account(ctx, r.summary, r.ms);
    const skipped = results.filter((r) => r.summary.status === 'skipped');
    if (skipped.length > 0 && (!overlap || skipped.length === results.length)) {
      ctx.problem(`${ctx.config.name}: ${skipped.map((r) => r.summary.runId).join(', ')} skipped with no other run holding the lease`);
    }
    for (const s of skipped) {
      if (s.summary.error?.name !== 'LeaseHeldError') ctx.problem(`${s.summary.runId} skipped with ${s.summary.error?.name}`);
    }
    const succeeded = results.map((r) => r.summary).filter((s) => s.status === 'succeeded');
    await checkState(ctx, succeeded);
  }
}

/** Waits until no transaction that started before now is still running anywhere on the server. */
async function waitForXidHorizon(db: pg.Client, timeoutMs: number): Promise<boolean> {
  const r = await db.query<{ x: string }>(`SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x`);
  const horizon = r.rows[0]?.x ?? '0';
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const now = await db.query<{ ok: boolean }>(`SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::xid8 AS ok`, [horizon]);
    if (now.rows[0]?.ok) return true;
    await sleep(100);
  }
  return false;
}

/** The last run after the writers stopped: the target must equal the source exactly; a rerun must change nothing. */
async function finalCheck(ctx: Context): Promise<void> {
  const name = ctx.config.name;
  const last = await timed(ctx.config, `soak-${ctx.scenario.name}-final`);
  account(ctx, last.summary, last.ms);
  if (last.summary.status !== 'succeeded') return;
  await checkState(ctx, [last.summary]);
  const source = await tableHashes(ctx.source, ctx.table.name);
  const sourceIds = [...(await sourceSnapshot(ctx.source, ctx.table)).keys()];
  const merge = ctx.scenario.load !== 'only_new_rows';
  const target = await tableHashes(ctx.target, ctx.table.name, merge ? sourceIds : undefined);
  const diff = multisetDifference(source, target);
  const targetIds = [...(await targetSnapshot(ctx.target, ctx.table)).rows.keys()];
  let deletedKept = 0;
  const deleted = await deletedIds(ctx.source, ctx.table);
  const sourceSet = new Set(sourceIds);
  for (const id of targetIds) {
    if (sourceSet.has(id)) continue;
    if (!merge || !deleted.has(id)) ctx.problem(`${name}: final: target key ${id} is neither in the source nor deleted from it`);
    else deletedKept += 1;
  }
  const exact = diff.missing === 0 && diff.extra === 0;
  if (!exact) ctx.problem(`${name}: final: target differs from the source: ${diff.missing} source rows missing, ${diff.extra} target rows extra`);
  ctx.report.final = { sourceRows: source.length, targetRows: targetIds.length, deletedKept, exact };
  const before = await tableHashes(ctx.target, ctx.table.name);
  const again = await timed(ctx.config, `soak-${ctx.scenario.name}-rerun`);
  account(ctx, again.summary, again.ms);
  if (again.summary.status === 'succeeded' && JSON.stringify(await tableHashes(ctx.target, ctx.table.name)) !== JSON.stringify(before)) {
    ctx.problem(`${name}: a rerun with no source changes changed the target`);
  }
}

/** Runs the soak; never throws for a failed check (see `problems`). */
export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const started = Date.now();
  const log = o.log ?? (() => undefined);
  const problems: string[] = [];
  const clients: pg.Client[] = [];
  const open = async (url: string): Promise<pg.Client> => {
    const c = await o.connect(url);
    clients.push(c);
    await c.query(`SET TimeZone = 'UTC'`);
    return c;
  };
  const contexts: Context[] = [];
  try {
    const setup = await open(o.sourceUrl);
    for (const scenario of o.scenarios ?? SCENARIOS) {
      const table = soakTable(`soak_${scenario.name}`);
      await createSoakTable(setup, table, o.seedRows ?? 2000);
      const report: ScenarioReport = {
        name: scenario.name,
        runs: 0,
        succeeded: 0,
        skipped: 0,
        failed: 0,
        rowsExtracted: 0,
        rowsInserted: 0,
        rowsDeleted: 0,
        chunks: 0,
        bytes: 0,
        maxRunMs: 0,
        totalRunMs: 0,
        rowsChecked: 0,
        writers: emptyWriterStats(),
      };
      const problem = (message: string): void => {
        if (problems.length < 50) problems.push(message);
        log(`PROBLEM ${message}`);
      };
      contexts.push({
        scenario,
        table,
        config: configFor(scenario, table, o),
        report,
        problem,
        source: await open(o.sourceUrl),
        target: await open(o.targetUrl),
        previous: new Map(),
        before: new Map(),
      });
    }
    for (const ctx of contexts) ctx.before = await sourceSnapshot(ctx.source, ctx.table);

    let writersStopped = false;
    let pipelinesStopped = false;
    const writers: Promise<void>[] = [];
    for (const ctx of contexts) {
      const ids = { hi: o.seedRows ?? 2000 };
      const merge = ctx.scenario.load !== 'only_new_rows';
      const base = { table: ctx.table, updates: merge, deletes: merge, ids, stats: ctx.report.writers, stopped: () => writersStopped };
      for (let i = 0; i < (o.writers ?? 2); i += 1) {
        writers.push(open(o.sourceUrl).then((db) => writerLoop(db, { ...base, pauseMs: [5, 40] })));
      }
      for (let i = 0; i < (o.longWriters ?? 1); i += 1) {
        const [minMs, maxMs] = o.longMs ?? [1500, 5000];
        writers.push(open(o.sourceUrl).then((db) => writerLoop(db, { ...base, long: { minMs, maxMs }, pauseMs: [50, 300] })));
      }
    }
    const loops = contexts.map((ctx) => pipelineLoop(ctx, o, () => pipelinesStopped));
    const progress = setInterval(() => {
      log(`${Math.round((Date.now() - started) / 1000)}s ${contexts.map((c) => `${c.scenario.name}: ${c.report.succeeded} runs`).join(', ')}`);
    }, 10_000);
    try {
      await sleep(o.durationMs);
      // A slow machine must not turn the soak into a few runs: go on until each pipeline ran minRuns times.
      const hardStop = started + 3 * o.durationMs;
      while (contexts.some((c) => c.report.succeeded < (o.minRuns ?? 0)) && Date.now() < hardStop) await sleep(200);
      writersStopped = true;
      await Promise.all(writers);
      pipelinesStopped = true;
      await Promise.all(loops);
    } finally {
      clearInterval(progress);
    }
    const lookbackMs = (o.lookbackSeconds ?? 30) * 1000;
    for (const ctx of contexts) {
      if (ctx.scenario.cursor === 'column' && ctx.report.writers.maxTransactionMs >= lookbackMs) {
        problems.push(
          `${ctx.scenario.name}: a writer transaction lasted ${ctx.report.writers.maxTransactionMs} ms, longer than the lookback; the soak's premise does not hold`,
        );
      }
      for (const e of ctx.report.writers.errors) problems.push(`${ctx.scenario.name}: writer error: ${e}`);
    }
    // xmin windows end at the oldest transaction still running anywhere on the server; wait for the writers' to clear it.
    if (!(await waitForXidHorizon(setup, 60_000))) log('transactions of other sessions still hold the xid horizon back; xmin pipelines may need another run');
    for (const ctx of contexts) await finalCheck(ctx);
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
  return { durationMs: Date.now() - started, scenarios: contexts.map((c) => c.report), problems };
}

/** The report as a few lines of text. */
export function formatReport(report: SoakReport): string[] {
  const sum = (f: (s: ScenarioReport) => number): number => report.scenarios.reduce((n, s) => n + f(s), 0);
  const lines = [
    `soak: ${(report.durationMs / 1000).toFixed(1)} s, ${report.problems.length} problem(s); ${sum((s) => s.succeeded)} runs succeeded, ${sum((s) => s.skipped)} skipped (overlapping), ${sum((s) => s.failed)} failed; ` +
      `rows extracted ${sum((s) => s.rowsExtracted)}, inserted ${sum((s) => s.rowsInserted)}, deleted ${sum((s) => s.rowsDeleted)}; writer commits ${sum((s) => s.writers.commits)}, rollbacks ${sum((s) => s.writers.rollbacks)}`,
  ];
  for (const s of report.scenarios) {
    const w = s.writers;
    lines.push(
      `  ${s.name.padEnd(14)} runs ${s.runs} (${s.succeeded} ok, ${s.skipped} skipped, ${s.failed} failed), rows extracted ${s.rowsExtracted}, inserted ${s.rowsInserted}, deleted ${s.rowsDeleted}, chunks ${s.chunks}, avg run ${Math.round(s.totalRunMs / Math.max(s.runs, 1))} ms (max ${s.maxRunMs}), rows checked ${s.rowsChecked}`,
      `  ${''.padEnd(14)} writers: ${w.commits} commits, ${w.rollbacks} rollbacks, ${w.longTransactions} long, longest ${w.maxTransactionMs} ms; ${w.inserts} inserts, ${w.updates} updates, ${w.deletes} deletes` +
        (s.final
          ? `; final: source ${s.final.sourceRows} rows, target ${s.final.targetRows} (${s.final.deletedKept} deleted kept), ${s.final.exact ? 'exact' : 'DIFFERENT'}`
          : ''),
    );
  }
  for (const p of report.problems) lines.push(`  problem: ${p}`);
  return lines;
}

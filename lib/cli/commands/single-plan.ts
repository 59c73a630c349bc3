/** The full plan of one pipeline (a single-table file, or one table of a file of tables): window, chunks, every statement. */
import type { PipelineConfig } from '../../config/index.ts';
import type { ConnectionRef } from '../../connections/index.ts';
import { close, query, type Db } from '../../db/index.ts';
import { strategyFor } from '../../sink/strategies/index.ts';
import { stagedColumns, stagingTables } from '../../sink/staging.ts';
import { createStagingSql, dropStagingSql } from '../../sql/ddl.ts';
import { copyFromSql, copyToSql, type ChunkBounds } from '../../sql/extract.ts';
import { qualified } from '../../sql/quote.ts';
import { acquireLeaseSql, completeRunSql, fenceSql, stateSchemaSql } from '../../state/sql.ts';
import { getPipelineState } from '../../state/store.ts';
import type { RunOutcome, RunPlan } from '../../state/types.ts';
import { budgetMargin } from '../../db/budget.ts';
import { LAMBDA_TIMEOUT_SECONDS } from '../../workflow/definition.ts';
import { chunkSelect, computePlan, stagingBecomesTarget } from '../../workflow/planning.ts';
import { strategyLabel } from '../../workflow/request.ts';
import type { Io } from '../output.ts';

const PREVIEW_RUN_ID = '<run-id>';
/** Counts the printed completion statements are built with; only their text is shown, never these values. */
const PREVIEW_OUTCOME: RunOutcome = { rowsExtracted: 0, rowsInserted: 0, rowsDeleted: 0, bytes: 0, cursorAfter: null };

/** Opens a connection read-only; tests wrap it. */
export type Connect = (ref: ConnectionRef, options: { readOnly: true }) => Promise<Db>;

/** The source, target and state connections of a plan, all read-only. */
export interface PlanConnections {
  readonly source: Db;
  readonly target: Db;
  readonly state: Db;
}

/** Opens the three read-only connections of a plan, runs `work`, closes them. */
export async function withPlanConnections<T>(
  refs: { readonly source: ConnectionRef; readonly sink: ConnectionRef; readonly state: ConnectionRef },
  connect: Connect,
  work: (dbs: PlanConnections) => Promise<T>,
): Promise<T> {
  let source: Db | undefined;
  let target: Db | undefined;
  let state: Db | undefined;
  try {
    source = await connect(refs.source, { readOnly: true });
    target = await connect(refs.sink, { readOnly: true });
    state = await connect(refs.state, { readOnly: true });
    return await work({ source, target, state });
  } finally {
    await Promise.all([close(source), close(target), close(state)]);
  }
}

/** Prints the whole plan of one pipeline (one table): the window, the chunks and every statement of a run. */
export async function printPlan(dbs: PlanConnections, config: PipelineConfig, io: Io): Promise<void> {
  const { source, target, state } = dbs;
  const stored = await readStoredCursor(state, config);
  const log = { info: () => undefined, warn: (m: string) => io.err(`warn  ${m}`), error: () => undefined };
  const { plan, chunks, chunkRows, rowBytes } = await computePlan(source, target, config, PREVIEW_RUN_ID, { stored, fullRefresh: false, log });
  const label = strategyLabel(config);
  const w = plan.window;
  io.out(`-- pipeline ${config.name}: ${label.mode} / ${label.strategy}`);
  io.out(`-- stored cursor: ${JSON.stringify(stored ?? null)}`);
  io.out(
    `-- task budget: ${LAMBDA_TIMEOUT_SECONDS} s per task (one Lambda invocation); each statement is cancelled ${budgetMargin(LAMBDA_TIMEOUT_SECONDS * 1000) / 1000} s before the budget ends`,
  );
  io.out(
    `-- window: ${w.strategy}${w.full ? ' (full extraction)' : ''}; lower ${JSON.stringify(w.lower)} (inclusive), upper ${JSON.stringify(w.upper)} (${w.strategy === 'xmin' ? 'exclusive' : 'inclusive'})${w.note ? `; ${w.note}` : ''}`,
  );
  io.out(`-- cursor after a successful run: ${JSON.stringify(w.cursorAfter)}`);
  io.out(`-- columns: ${plan.columns.map((c) => `${c.name} ${c.type}`).join(', ')}`);
  io.out(
    `-- chunks: ${chunks.length}${plan.chunkColumn ? ` on ${plan.chunkColumn.name} (${plan.chunkColumn.type})` : ''}, ${chunkRowsText(config, chunkRows, rowBytes)}`,
  );
  if (!plan.chunkColumn) {
    const what = config.source.table
      ? 'the table has no single-column primary key and no btree index that leads with a column'
      : 'a query source is chunked only on source.options.chunk_column';
    io.out(`-- one chunk: ${what}; a chunk must fit one task (15 minutes on AWS): set source.options.chunk_column to a column that orders the rows`);
  }
  const unique = plan.stagedKeysUnique;
  if (unique) io.out(`-- duplicate keys: cannot occur (unique index ${unique.sourceIndex} on the source, ${unique.targetIndex} on the target); no check`);
  for (const statement of await runStatements(target, config, plan, chunks)) io.out(statement.endsWith('\n') ? statement : `${statement};`);
}

/** How many rows a chunk targets, and why: the pipeline's chunk_rows or the default for the table's row width. */
function chunkRowsText(config: PipelineConfig, chunkRows: number, rowBytes: number | undefined): string {
  const rows = `${chunkRows.toLocaleString('en-US')} rows per chunk`;
  const set = config.source.options.chunk_rows;
  if (set !== undefined && chunkRows < set) {
    return `${rows} (chunk_rows ${set.toLocaleString('en-US')}, lowered to about 256 MiB of rows of ~${Math.round(rowBytes ?? 0).toLocaleString('en-US')} bytes)`;
  }
  if (set !== undefined) return `${rows} (chunk_rows)`;
  const width = rowBytes === undefined ? 'row width unknown' : `~${Math.round(rowBytes).toLocaleString('en-US')} bytes per row as stored`;
  return `${rows} (default; ${width})`;
}

/** The stored cursor, or null when the state schema or the pipeline's row does not exist yet. */
async function readStoredCursor(state: Db, config: PipelineConfig): Promise<unknown> {
  const exists = await query<{ ok: boolean }>(state, {
    text: `SELECT to_regclass(format('%I.pipeline_state', $1::text)) IS NOT NULL AS ok`,
    values: [config.state.schema],
  });
  if (!exists.rows[0]?.ok) return null;
  return (await getPipelineState(state, config.state.schema, config.name))?.cursor ?? null;
}

/** Every statement of a run, in order, with `--` comments naming the task that runs it. */
async function runStatements(target: Db, config: PipelineConfig, plan: RunPlan, chunks: readonly ChunkBounds[]): Promise<string[]> {
  const schema = config.state.schema;
  const { staging, done } = stagingTables(plan);
  const out: string[] = [
    '\n-- Plan (state database)\n',
    ...stateSchemaSql(schema),
    acquireLeaseSql(schema, config.name, PREVIEW_RUN_ID, config.state.lease_ttl).text,
  ];
  out.push(
    '\n-- Plan (target): staging\n',
    ...createStagingSql(staging, done, stagedColumns(plan), {
      pipeline: config.name,
      runId: PREVIEW_RUN_ID,
      logged: stagingBecomesTarget(config),
      notNull: plan.stagedNotNull ?? [],
    }),
  );
  chunks.forEach((bounds, i) => {
    out.push(
      `\n-- ExtractChunk ${i} (source -> target, one target transaction)\n`,
      copyToSql(chunkSelect(config, plan, bounds)),
      copyFromSql(
        staging,
        stagedColumns(plan).map((c) => c.name),
      ),
    );
  });
  const strategy = strategyFor(config);
  // A run with staged rows; with none the ahead ANALYZE is left out.
  const ahead = (await strategy.ahead?.({ db: target, config, plan, staging, stagedRows: 1 })) ?? [];
  if (ahead.length > 0) {
    const parallel = config.source.options.max_parallel_chunks;
    out.push(
      `\n-- Apply, ahead of its transaction (${parallel === 1 ? 'one statement' : `up to ${parallel} at once`} on other target connections; one that fails is left to the transaction)\n`,
    );
    for (const job of ahead) out.push(...job.statements);
  }
  out.push('\n-- Apply (one target transaction)\n', 'BEGIN', fenceSql(schema, config.name, PREVIEW_RUN_ID).text);
  out.push(...((await strategy.describe?.(target, config, plan, staging)) ?? []));
  out.push(...completeRunSql(schema, { pipeline: config.name, runId: PREVIEW_RUN_ID, outcome: PREVIEW_OUTCOME }).map((s) => s.text), 'COMMIT');
  out.push('\n-- Finalize (target)\n', ...dropStagingSql(staging, done));
  out.push(`\n-- target: ${qualified(config.sink.table)}${plan.targetExists ? '' : ' (created by the run)'}\n`);
  return out;
}

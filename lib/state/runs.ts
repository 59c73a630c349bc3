/** A pipeline's runs in `runs`: record a planned run, read runs, and end one as succeeded or failed. */
import { query, transaction, type Db } from '../db/index.ts';
import { deleteChunksSql, insertChunksSql } from './chunks-sql.ts';
import { releaseLease } from './lease.ts';
import { completeRunSql, listRunsSql, recordFailedRunSql, recordRunSql, runErrorsSql, runSql } from './runs-sql.ts';
import type { NewRun, RecordedError, RunOutcome, RunPlan, RunRecord, RunSummary } from './types.ts';

/** Records a planned run and its chunk bounds (replacing those of an earlier attempt of the same plan). */
export async function createRun(db: Db, schema: string, run: NewRun): Promise<void> {
  await transaction(
    db,
    async () => {
      await query(db, recordRunSql(schema, run), 'recording the run');
      await query(db, deleteChunksSql(schema, run.runId), 'recording the chunks');
      await query(db, insertChunksSql(schema, run.runId, run.chunks), 'recording the chunks');
    },
    'recording the run',
  );
}

/** Reads a run row. */
export async function getRun(db: Db, schema: string, runId: string): Promise<RunRecord | undefined> {
  const result = await query(db, runSql(schema, runId), 'reading the run');
  const row = result.rows[0];
  return row ? toRunRecord(row) : undefined;
}

/** The last runs of a pipeline, newest first. */
/** The recorded `{name, message}` error of each of these runs that has one, by run id. */
export async function runErrors(db: Db, schema: string, runIds: readonly string[]): Promise<Map<string, { name: string; message: string }>> {
  if (runIds.length === 0) return new Map();
  const result = await query<{ run_id: string; error: { name?: string; message?: string } }>(db, runErrorsSql(schema, runIds), 'reading the runs');
  return new Map(result.rows.map((r) => [r.run_id, { name: String(r.error.name ?? 'Error'), message: String(r.error.message ?? '') }]));
}

export async function listRuns(db: Db, schema: string, pipeline: string, limit = 10): Promise<RunRecord[]> {
  const result = await query(db, listRunsSql(schema, pipeline, limit), 'reading the runs');
  return result.rows.map(toRunRecord);
}

/**
 * Marks the run succeeded, moves the cursor and releases the lease. Call inside the apply transaction,
 * after {@link fence}, so the cursor moves exactly when the target's rows do.
 */
export async function completeRun(db: Db, schema: string, pipeline: string, runId: string, outcome: RunOutcome): Promise<void> {
  const [moveCursor, markRun] = completeRunSql(schema, { pipeline, runId, outcome });
  await query(db, moveCursor, 'moving the cursor');
  await query(db, markRun, 'recording the run');
}

/**
 * Records a failed run (creating its row if the plan never got that far) and releases the lease if this run
 * holds it. Only a running run is changed: one that succeeded stays succeeded, and one already ended keeps the
 * first cause recorded (a takeover, `state unlock`, the cleanup task), not a stray task's later error.
 */
export async function failRun(
  db: Db,
  schema: string,
  pipeline: string,
  runId: string,
  error: RecordedError,
  status: 'failed' | 'timed_out' | 'aborted' = 'failed',
): Promise<void> {
  await transaction(
    db,
    async () => {
      await query(db, recordFailedRunSql(schema, { pipeline, runId, error, status }), 'recording the failed run');
      await releaseLease(db, schema, pipeline, runId);
    },
    'recording the failed run',
  );
}

/** Builds the run summary (README.md, "Commands") from a run row. */
export function summarize(run: RunRecord): RunSummary {
  const finished = run.finishedAt ?? new Date();
  const summary: RunSummary = {
    pipeline: run.pipeline,
    runId: run.runId,
    status: run.status === 'succeeded' ? 'succeeded' : run.status === 'skipped' ? 'skipped' : 'failed',
    mode: run.mode,
    strategy: run.strategy,
    rowsExtracted: run.rowsExtracted ?? 0,
    rowsInserted: run.rowsInserted ?? 0,
    rowsDeleted: run.rowsDeleted ?? 0,
    chunks: run.chunkCount ?? 0,
    bytes: run.bytes ?? 0,
    cursorBefore: run.cursorBefore ?? null,
    cursorAfter: run.cursorAfter ?? null,
    durationMs: Math.max(0, finished.getTime() - run.startedAt.getTime()),
  };
  const w = run.windowBounds as { strategy?: string; lower?: string | null; upper?: string | null; full?: boolean } | null;
  if (w?.strategy && w.strategy !== 'none') summary.window = { strategy: w.strategy, lower: w.lower ?? null, upper: w.upper ?? null, full: w.full ?? false };
  if (run.error) summary.error = run.error;
  return summary;
}

/** A row of `runs` as {@link RunRecord}: bigint columns (text from pg) become numbers. */
function toRunRecord(r: Record<string, unknown>): RunRecord {
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return {
    runId: r.run_id as string,
    pipeline: r.pipeline as string,
    status: r.status as RunRecord['status'],
    mode: (r.mode as string | null) ?? null,
    strategy: (r.strategy as string | null) ?? null,
    fullRefresh: Boolean(r.full_refresh),
    startedAt: r.started_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
    windowBounds: r.window_bounds ?? null,
    plan: (r.plan as RunPlan | null) ?? null,
    chunkCount: num(r.chunk_count),
    rowsExtracted: num(r.rows_extracted),
    rowsInserted: num(r.rows_inserted),
    rowsDeleted: num(r.rows_deleted),
    bytes: num(r.bytes),
    cursorBefore: r.cursor_before ?? null,
    cursorAfter: r.cursor_after ?? null,
    error: (r.error as RunRecord['error']) ?? null,
  };
}

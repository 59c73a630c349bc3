/** SQL text of the `runs` table: record, read, fail and complete a run. */
import type { Statement } from '../db/index.ts';
import { moveCursorSql } from './cursor-sql.ts';
import { stateTable } from './schema-sql.ts';
import type { NewRun, RecordedError, RunOutcome } from './types.ts';

/** Records a planned run as running; a retried plan of the same run replaces what the earlier attempt recorded. */
export function recordRunSql(schema: string, run: NewRun): Statement {
  return {
    text: `INSERT INTO ${stateTable(schema, 'runs')} (run_id, pipeline, status, mode, strategy, full_refresh, window_bounds, plan, chunk_count, cursor_before)
VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (run_id) DO UPDATE SET mode = EXCLUDED.mode, strategy = EXCLUDED.strategy, full_refresh = EXCLUDED.full_refresh,
  window_bounds = EXCLUDED.window_bounds, plan = EXCLUDED.plan, chunk_count = EXCLUDED.chunk_count, cursor_before = EXCLUDED.cursor_before`,
    values: [
      run.runId,
      run.pipeline,
      run.mode,
      run.strategy,
      run.fullRefresh,
      JSON.stringify(run.windowBounds ?? null),
      JSON.stringify(run.plan),
      run.chunks.length,
      JSON.stringify(run.cursorBefore ?? null),
    ],
  };
}

/** One run's row. */
export function runSql(schema: string, runId: string): Statement {
  return { text: `SELECT * FROM ${stateTable(schema, 'runs')} WHERE run_id = $1`, values: [runId] };
}

/** The recorded error of each of these runs that has one. */
export function runErrorsSql(schema: string, runIds: readonly string[]): Statement {
  return { text: `SELECT run_id, error FROM ${stateTable(schema, 'runs')} WHERE run_id = ANY($1::text[]) AND error IS NOT NULL`, values: [runIds] };
}

/** The last `limit` runs of a pipeline, newest first. */
export function listRunsSql(schema: string, pipeline: string, limit: number): Statement {
  return {
    text: `SELECT * FROM ${stateTable(schema, 'runs')} WHERE pipeline = $1 ORDER BY started_at DESC LIMIT $2`,
    values: [pipeline, limit],
  };
}

/** What {@link markRunSucceededSql} and {@link completeRunSql} need: the run and the counts of its apply. */
export interface CompletedRun {
  readonly pipeline: string;
  readonly runId: string;
  readonly outcome: RunOutcome;
}

/** Marks the run succeeded with the counts of its apply and the cursor it moved to. */
export function markRunSucceededSql(schema: string, run: CompletedRun): Statement {
  const { outcome } = run;
  return {
    text: `UPDATE ${stateTable(schema, 'runs')} SET status = 'succeeded', finished_at = clock_timestamp(), rows_extracted = $3,
  rows_inserted = $4, rows_deleted = $5, bytes = $6, cursor_after = $7, error = NULL
WHERE run_id = $2 AND pipeline = $1`,
    values: [
      run.pipeline,
      run.runId,
      outcome.rowsExtracted,
      outcome.rowsInserted,
      outcome.rowsDeleted,
      outcome.bytes,
      JSON.stringify(outcome.cursorAfter ?? null),
    ],
  };
}

/** Apply's last statements: move the cursor and release the lease, then mark the run succeeded. */
export function completeRunSql(schema: string, run: CompletedRun): [moveCursor: Statement, markRun: Statement] {
  return [moveCursorSql(schema, { pipeline: run.pipeline, runId: run.runId, cursorAfter: run.outcome.cursorAfter }), markRunSucceededSql(schema, run)];
}

/** What {@link recordFailedRunSql} needs: the run, its error and the status it ends with. */
export interface FailedRun {
  readonly pipeline: string;
  readonly runId: string;
  readonly error: RecordedError;
  readonly status: 'failed' | 'timed_out' | 'aborted';
}

/** Records a run's failure, creating its row if the plan never got that far; only a running run is changed. */
export function recordFailedRunSql(schema: string, run: FailedRun): Statement {
  return {
    text: `INSERT INTO ${stateTable(schema, 'runs')} AS r (run_id, pipeline, status, finished_at, error)
VALUES ($1, $2, $4, clock_timestamp(), $3)
ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status, finished_at = clock_timestamp(), error = EXCLUDED.error
WHERE r.status = 'running'`,
    values: [run.runId, run.pipeline, JSON.stringify(run.error), run.status],
  };
}

/** Marks a run failed if it is still running: its lease was taken over or released by `state unlock`. */
export function failRunningRunSql(schema: string, runId: string, error: RecordedError): Statement {
  return {
    text: `UPDATE ${stateTable(schema, 'runs')} SET status = 'failed', finished_at = clock_timestamp(), error = $2 WHERE run_id = $1 AND status = 'running'`,
    values: [runId, JSON.stringify(error)],
  };
}

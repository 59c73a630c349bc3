/** Reads and writes the state database: the pipeline's cursor and lease, runs and their chunks. */
import { query, transaction, execute, type Db } from '../db/index.ts';
import { redact } from '../connections/index.ts';
import { DatabaseError, LeaseHeldError, LeaseLostError, PgferryError } from '../errors.ts';
import { acquireLeaseSql, completeRunSql, fenceSql, renewLeaseSql, stateReadySql, stateSchemaSql, stateTable } from './sql.ts';
import type { RunPlan, RunRecord, RunSummary } from './types.ts';

/**
 * Creates the state schema and tables if missing. Once they all exist their DDL is not run again: even with
 * IF NOT EXISTS, CREATE SCHEMA needs CREATE on the database and CREATE INDEX the table's ownership, which a
 * role granted only USAGE on the schema and privileges on the tables does not have.
 */
export async function ensureStateSchema(db: Db, schema: string): Promise<void> {
  const found = (await query<{ schema: boolean; ready: boolean }>(db, stateReadySql(schema), 'looking for the state schema')).rows[0];
  if (found?.ready) return;
  await transaction(db, () => execute(db, stateSchemaSql(schema, { createSchema: !found?.schema }), 'creating the state schema'), 'creating the state schema');
}

/** How long a Plan waits for the pipeline's row while a live run's Apply holds it, before it counts as held. */
const LEASE_LOCK_TIMEOUT = '5s';

/**
 * Takes the pipeline's lease for `runId` for `ttlMs`, returning the stored cursor; LeaseHeldError when
 * another live run has it, or when a run's Apply holds the row locked (its fence) for longer than
 * {@link LEASE_LOCK_TIMEOUT}: that run is alive, so this one is skipped instead of waiting for it.
 */
export async function acquireLease(db: Db, schema: string, pipeline: string, runId: string, ttlMs?: number): Promise<{ cursor: unknown }> {
  try {
    const taken = await transaction(db, async () => {
      await query(db, `SET LOCAL lock_timeout = '${LEASE_LOCK_TIMEOUT}'`, 'taking the lease');
      const before = await query<{ lease_run_id: string | null }>(
        db,
        { text: `SELECT lease_run_id FROM ${stateTable(schema, 'pipeline_state')} WHERE pipeline = $1`, values: [pipeline] },
        'reading the lease',
      );
      const row = (await query<{ cursor: unknown }>(db, acquireLeaseSql(schema, pipeline, runId, ttlMs), 'taking the lease')).rows[0];
      // Taking over an expired lease means its run died: without this its record would say 'running' forever.
      const previous = before.rows[0]?.lease_run_id;
      if (row && previous && previous !== runId) {
        await query(db, {
          text: `UPDATE ${stateTable(schema, 'runs')} SET status = 'failed', finished_at = clock_timestamp(), error = $2 WHERE run_id = $1 AND status = 'running'`,
          values: [previous, JSON.stringify({ name: 'LeaseLostError', message: `lease expired; taken over by run ${runId}` })],
        }, 'recording the run whose lease expired');
      }
      return row;
    }, 'taking the lease');
    if (taken) return { cursor: taken.cursor };
  } catch (error) {
    if (!(error instanceof PgferryError && (error as { code?: string }).code === '55P03')) throw error;
  }
  const holder = await query<{ lease_run_id: string | null; lease_until: Date | null }>(
    db,
    { text: `SELECT lease_run_id, lease_until FROM ${stateTable(schema, 'pipeline_state')} WHERE pipeline = $1`, values: [pipeline] },
    'reading the lease',
  );
  const h = holder.rows[0];
  throw new LeaseHeldError(pipeline, h?.lease_run_id ?? 'unknown', h?.lease_until ? h.lease_until.toISOString() : 'unknown');
}

/** Renews the lease for `ttlMs`; LeaseLostError when the run no longer holds it. */
export async function renewLease(db: Db, schema: string, pipeline: string, runId: string, ttlMs?: number): Promise<void> {
  const result = await query(db, renewLeaseSql(schema, pipeline, runId, ttlMs), 'renewing the lease');
  if (result.rowCount === 0) throw new LeaseLostError(pipeline, runId);
}

/** Locks the pipeline row for the rest of the transaction if `runId` holds the lease; LeaseLostError otherwise. */
export async function fence(db: Db, schema: string, pipeline: string, runId: string): Promise<{ cursor: unknown }> {
  const result = await query<{ cursor: unknown }>(db, fenceSql(schema, pipeline, runId), 'checking the lease');
  const row = result.rows[0];
  if (!row) throw new LeaseLostError(pipeline, runId);
  return { cursor: row.cursor };
}

/** Fields of a new run row. */
export interface NewRun {
  readonly runId: string;
  readonly pipeline: string;
  readonly mode: string;
  readonly strategy: string;
  readonly fullRefresh: boolean;
  readonly plan: RunPlan;
  readonly windowBounds: unknown;
  readonly cursorBefore: unknown;
  readonly chunks: readonly { lower: string | null; upper: string | null }[];
}

/** Records a planned run and its chunk bounds (replacing those of an earlier attempt of the same plan). */
export async function createRun(db: Db, schema: string, run: NewRun): Promise<void> {
  const runs = stateTable(schema, 'runs');
  const chunks = stateTable(schema, 'run_chunks');
  await transaction(db, async () => {
    await query(db, {
      text: `INSERT INTO ${runs} (run_id, pipeline, status, mode, strategy, full_refresh, window_bounds, plan, chunk_count, cursor_before)
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
    }, 'recording the run');
    await query(db, { text: `DELETE FROM ${chunks} WHERE run_id = $1`, values: [run.runId] }, 'recording the chunks');
    await query(db, {
      text: `INSERT INTO ${chunks} (run_id, chunk_no, lower_bound, upper_bound)
SELECT $1, n - 1, b.lower_bound, b.upper_bound FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS b(lower_bound, upper_bound, n)`,
      values: [run.runId, run.chunks.map((c) => c.lower), run.chunks.map((c) => c.upper)],
    }, 'recording the chunks');
  }, 'recording the run');
}

/** Bounds of one chunk, as text of the chunk column's type (null = open). */
export async function getChunk(db: Db, schema: string, runId: string, chunk: number): Promise<{ lower: string | null; upper: string | null }> {
  const result = await query<{ lower_bound: string | null; upper_bound: string | null }>(db, {
    text: `SELECT lower_bound, upper_bound FROM ${stateTable(schema, 'run_chunks')} WHERE run_id = $1 AND chunk_no = $2`,
    values: [runId, chunk],
  }, 'reading the chunk');
  const row = result.rows[0];
  if (!row) throw new DatabaseError(`run ${runId} has no chunk ${chunk}`);
  return { lower: row.lower_bound, upper: row.upper_bound };
}

/** Records what a chunk extracted (informational; the authoritative record is in the target's done table). */
export async function recordChunk(db: Db, schema: string, runId: string, chunk: number, rows: number, bytes: number): Promise<void> {
  await query(db, {
    text: `UPDATE ${stateTable(schema, 'run_chunks')} SET rows = $3, bytes = $4, attempts = attempts + 1, finished_at = now(), error = NULL
WHERE run_id = $1 AND chunk_no = $2`,
    values: [runId, chunk, rows, bytes],
  }, 'recording the chunk');
}

/** Keeps the last error of a chunk, so a failure reported by the Map as a whole can name its real cause. */
export async function recordChunkError(db: Db, schema: string, runId: string, chunk: number, error: unknown): Promise<void> {
  const e = error instanceof Error ? { name: error.name, message: redact(error.message) } : { name: 'Error', message: redact(String(error)) };
  await query(db, {
    text: `UPDATE ${stateTable(schema, 'run_chunks')} SET error = $3, attempts = attempts + 1 WHERE run_id = $1 AND chunk_no = $2`,
    values: [runId, chunk, JSON.stringify(e)],
  }, 'recording the chunk error');
}

/** The error of the most recently failed chunk of a run that has not since succeeded, if any. */
export async function lastChunkError(db: Db, schema: string, runId: string): Promise<{ name: string; message: string } | undefined> {
  const result = await query<{ error: { name: string; message: string } }>(db, {
    text: `SELECT error FROM ${stateTable(schema, 'run_chunks')} WHERE run_id = $1 AND error IS NOT NULL AND finished_at IS NULL ORDER BY chunk_no LIMIT 1`,
    values: [runId],
  }, 'reading chunk errors');
  return result.rows[0]?.error;
}

/** Reads a run row. */
export async function getRun(db: Db, schema: string, runId: string): Promise<RunRecord | undefined> {
  const result = await query(db, { text: `SELECT * FROM ${stateTable(schema, 'runs')} WHERE run_id = $1`, values: [runId] }, 'reading the run');
  const row = result.rows[0];
  return row ? toRunRecord(row) : undefined;
}

/** The last runs of a pipeline, newest first. */
export async function listRuns(db: Db, schema: string, pipeline: string, limit = 10): Promise<RunRecord[]> {
  const result = await query(db, {
    text: `SELECT * FROM ${stateTable(schema, 'runs')} WHERE pipeline = $1 ORDER BY started_at DESC LIMIT $2`,
    values: [pipeline, limit],
  }, 'reading the runs');
  return result.rows.map(toRunRecord);
}

/** Counts of a successful apply. */
export interface RunOutcome {
  readonly rowsExtracted: number;
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
  readonly bytes: number;
  readonly cursorAfter: unknown;
}

/**
 * Marks the run succeeded, moves the cursor and releases the lease. Call inside the apply transaction,
 * after {@link fence}, so the cursor moves exactly when the target's rows do.
 */
export async function completeRun(db: Db, schema: string, pipeline: string, runId: string, outcome: RunOutcome): Promise<void> {
  const [moveCursor, markRun] = completeRunSql(schema);
  const cursorAfter = JSON.stringify(outcome.cursorAfter ?? null);
  await query(db, { text: moveCursor?.text ?? '', values: [pipeline, runId, cursorAfter] }, 'moving the cursor');
  await query(db, {
    text: markRun?.text ?? '',
    values: [pipeline, runId, outcome.rowsExtracted, outcome.rowsInserted, outcome.rowsDeleted, outcome.bytes, cursorAfter],
  }, 'recording the run');
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
  error: { name: string; message: string },
  status: 'failed' | 'timed_out' | 'aborted' = 'failed',
): Promise<void> {
  await transaction(db, async () => {
    await query(db, {
      text: `INSERT INTO ${stateTable(schema, 'runs')} AS r (run_id, pipeline, status, finished_at, error)
VALUES ($1, $2, $4, clock_timestamp(), $3)
ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status, finished_at = clock_timestamp(), error = EXCLUDED.error
WHERE r.status = 'running'`,
      values: [runId, pipeline, JSON.stringify(error), status],
    }, 'recording the failed run');
    await releaseLease(db, schema, pipeline, runId);
  }, 'recording the failed run');
}

/** Releases the lease if `runId` holds it; a no-op otherwise. */
export async function releaseLease(db: Db, schema: string, pipeline: string, runId: string): Promise<void> {
  await query(db, {
    text: `UPDATE ${stateTable(schema, 'pipeline_state')} SET lease_run_id = NULL, lease_until = NULL, updated_at = now()
WHERE pipeline = $1 AND lease_run_id = $2`,
    values: [pipeline, runId],
  }, 'releasing the lease');
}

/** A pipeline's row of `pipeline_state`, or undefined before its first run. */
export interface PipelineState {
  readonly pipeline: string;
  readonly cursor: unknown;
  readonly leaseRunId: string | null;
  readonly leaseUntil: Date | null;
  readonly lastSuccessRunId: string | null;
  readonly lastSuccessAt: Date | null;
}

/** Reads a pipeline's state row. */
export async function getPipelineState(db: Db, schema: string, pipeline: string): Promise<PipelineState | undefined> {
  const result = await query(db, { text: `SELECT * FROM ${stateTable(schema, 'pipeline_state')} WHERE pipeline = $1`, values: [pipeline] }, 'reading the state');
  const r = result.rows[0];
  if (!r) return undefined;
  return {
    pipeline: r.pipeline as string,
    cursor: r.cursor,
    leaseRunId: (r.lease_run_id as string | null) ?? null,
    leaseUntil: (r.lease_until as Date | null) ?? null,
    lastSuccessRunId: (r.last_success_run_id as string | null) ?? null,
    lastSuccessAt: (r.last_success_at as Date | null) ?? null,
  };
}

/** Forgets a pipeline's cursor (the next run extracts everything); refused while a live run holds the lease. */
export async function resetState(db: Db, schema: string, pipeline: string): Promise<boolean> {
  const result = await query(db, {
    text: `UPDATE ${stateTable(schema, 'pipeline_state')} SET cursor = NULL, updated_at = now()
WHERE pipeline = $1 AND (lease_run_id IS NULL OR lease_until < now()) RETURNING pipeline`,
    values: [pipeline],
  }, 'resetting the state');
  if (result.rowCount === 0) {
    const state = await getPipelineState(db, schema, pipeline);
    if (state?.leaseRunId) throw new LeaseHeldError(pipeline, state.leaseRunId, state.leaseUntil?.toISOString() ?? 'unknown');
    return false;
  }
  return true;
}

/**
 * Releases the lease whoever holds it (`state unlock`), and marks the holder's run failed. Safe even if the
 * holder is still alive: its apply's fencing check will then refuse to move anything.
 */
export async function unlock(db: Db, schema: string, pipeline: string): Promise<string | undefined> {
  return transaction(db, async () => {
    const released = await query<{ holder: string | null }>(db, {
      text: `UPDATE ${stateTable(schema, 'pipeline_state')} s SET lease_run_id = NULL, lease_until = NULL, updated_at = now()
FROM (SELECT lease_run_id FROM ${stateTable(schema, 'pipeline_state')} WHERE pipeline = $1 FOR UPDATE) old
WHERE s.pipeline = $1 RETURNING old.lease_run_id AS holder`,
      values: [pipeline],
    }, 'releasing the lease');
    const holder = released.rows[0]?.holder ?? undefined;
    if (holder) {
      await query(db, {
        text: `UPDATE ${stateTable(schema, 'runs')} SET status = 'failed', finished_at = clock_timestamp(), error = $2 WHERE run_id = $1 AND status = 'running'`,
        values: [holder, JSON.stringify({ name: 'LeaseLostError', message: 'lease released by pgferry state unlock' })],
      }, 'recording the released run');
    }
    return holder;
  }, 'releasing the lease');
}

/** The portable form of a pipeline's cursor, for `state export` / `state import`. */
export interface StateExport {
  readonly format: 'pgferry-state/1';
  readonly pipeline: string;
  readonly cursor: unknown;
  readonly lastSuccessRunId: string | null;
  readonly lastSuccessAt: string | null;
  readonly exportedAt: string;
}

/** Writes an imported cursor; refused while a live run holds the lease (it would overwrite the import). */
export async function importCursor(db: Db, schema: string, pipeline: string, cursor: unknown): Promise<void> {
  const result = await query(db, {
    text: `INSERT INTO ${stateTable(schema, 'pipeline_state')} AS s (pipeline, cursor) VALUES ($1, $2)
ON CONFLICT (pipeline) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()
  WHERE s.lease_run_id IS NULL OR s.lease_until < now()
RETURNING pipeline`,
    values: [pipeline, JSON.stringify(cursor ?? null)],
  }, 'importing the state');
  if (result.rowCount === 0) {
    const state = await getPipelineState(db, schema, pipeline);
    throw new LeaseHeldError(pipeline, state?.leaseRunId ?? 'unknown', state?.leaseUntil?.toISOString() ?? 'unknown');
  }
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

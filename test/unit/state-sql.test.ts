/** The state database's statements: exact text and values of each builder in lib/state/ (what store.ts executes). */
import { describe, expect, it } from 'vitest';
import * as state from '../../lib/state/sql.ts';
import type { NewRun, RunOutcome, RunPlan } from '../../lib/state/types.ts';

const PS = '"pgferry"."pipeline_state"';
const RUNS = '"pgferry"."runs"';
const CHUNKS = '"pgferry"."run_chunks"';
const outcome: RunOutcome = { rowsExtracted: 10, rowsInserted: 8, rowsDeleted: 2, bytes: 512, cursorAfter: { updated_at: '2024-01-02' } };

describe('Function: leaseLockTimeoutSql', () => {
  it('bounds the wait for the row lock to LEASE_LOCK_TIMEOUT by default, as a literal', () => {
    expect(state.leaseLockTimeoutSql()).toEqual({ text: `SET LOCAL lock_timeout = '5s'` });
    expect(state.leaseLockTimeoutSql("1s'")).toEqual({ text: `SET LOCAL lock_timeout = '1s'''` });
  });
});

describe('Function: leaseHolderSql', () => {
  it('reads who holds the lease and until when', () => {
    expect(state.leaseHolderSql('pgferry', 'orders')).toEqual({
      text: `SELECT lease_run_id, lease_until FROM ${PS} WHERE pipeline = $1`,
      values: ['orders'],
    });
  });
});

describe('Function: acquireLeaseSql', () => {
  it('takes a free, expired or own lease for the TTL, returning the cursor only when taken', () => {
    expect(state.acquireLeaseSql('pgferry', 'orders', 'run-1', 90_000.4)).toEqual({
      text: `INSERT INTO ${PS} AS s (pipeline, lease_run_id, lease_until)
VALUES ($1, $2, now() + $3::interval)
ON CONFLICT (pipeline) DO UPDATE
  SET lease_run_id = EXCLUDED.lease_run_id, lease_until = EXCLUDED.lease_until, updated_at = now()
  WHERE s.lease_run_id IS NULL OR s.lease_until < now() OR s.lease_run_id = EXCLUDED.lease_run_id
RETURNING s.cursor`,
      values: ['orders', 'run-1', '90000 milliseconds'],
    });
  });
});

describe('Function: renewLeaseSql', () => {
  it('extends the lease only while the run holds it', () => {
    expect(state.renewLeaseSql('pgferry', 'orders', 'run-1', 60_000)).toEqual({
      text: `UPDATE ${PS} SET lease_until = now() + $3::interval
WHERE pipeline = $1 AND lease_run_id = $2 RETURNING pipeline`,
      values: ['orders', 'run-1', '60000 milliseconds'],
    });
  });
});

describe('Function: fenceSql', () => {
  it('locks the row while the run holds the lease', () => {
    expect(state.fenceSql('pgferry', 'orders', 'run-1')).toEqual({
      text: `SELECT cursor FROM ${PS} WHERE pipeline = $1 AND lease_run_id = $2 FOR UPDATE`,
      values: ['orders', 'run-1'],
    });
  });
});

describe('Function: releaseLeaseSql', () => {
  it('releases the lease only when the run holds it', () => {
    expect(state.releaseLeaseSql('pgferry', 'orders', 'run-1')).toEqual({
      text: `UPDATE ${PS} SET lease_run_id = NULL, lease_until = NULL, updated_at = now()
WHERE pipeline = $1 AND lease_run_id = $2`,
      values: ['orders', 'run-1'],
    });
  });
});

describe('Function: unlockSql', () => {
  it('releases the lease whoever holds it and returns the holder', () => {
    expect(state.unlockSql('pgferry', 'orders')).toEqual({
      text: `UPDATE ${PS} s SET lease_run_id = NULL, lease_until = NULL, updated_at = now()
FROM (SELECT lease_run_id FROM ${PS} WHERE pipeline = $1 FOR UPDATE) old
WHERE s.pipeline = $1 RETURNING old.lease_run_id AS holder`,
      values: ['orders'],
    });
  });
});

describe('Function: pipelineStateSql', () => {
  it('reads the whole row of the pipeline', () => {
    expect(state.pipelineStateSql('pgferry', 'orders')).toEqual({ text: `SELECT * FROM ${PS} WHERE pipeline = $1`, values: ['orders'] });
  });
});

describe('Function: moveCursorSql', () => {
  it('moves the cursor (as JSON) and releases the lease of the run that holds it', () => {
    expect(state.moveCursorSql('pgferry', { pipeline: 'orders', runId: 'run-1', cursorAfter: { id: 5 } })).toEqual({
      text: `UPDATE ${PS} SET cursor = $3, lease_run_id = NULL, lease_until = NULL,
  last_success_run_id = $2, last_success_at = now(), updated_at = now()
WHERE pipeline = $1 AND lease_run_id = $2`,
      values: ['orders', 'run-1', '{"id":5}'],
    });
  });
  it('stores a missing cursor as JSON null', () => {
    expect(state.moveCursorSql('pgferry', { pipeline: 'orders', runId: 'run-1', cursorAfter: undefined }).values).toEqual(['orders', 'run-1', 'null']);
  });
});

describe('Function: resetCursorSql', () => {
  it('forgets the cursor unless a live run holds the lease', () => {
    expect(state.resetCursorSql('pgferry', 'orders')).toEqual({
      text: `UPDATE ${PS} SET cursor = NULL, updated_at = now()
WHERE pipeline = $1 AND (lease_run_id IS NULL OR lease_until < now()) RETURNING pipeline`,
      values: ['orders'],
    });
  });
});

describe('Function: importCursorSql', () => {
  it('writes the cursor as JSON unless a live run holds the lease', () => {
    expect(state.importCursorSql('pgferry', 'orders', { id: 5 })).toEqual({
      text: `INSERT INTO ${PS} AS s (pipeline, cursor) VALUES ($1, $2)
ON CONFLICT (pipeline) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()
  WHERE s.lease_run_id IS NULL OR s.lease_until < now()
RETURNING pipeline`,
      values: ['orders', '{"id":5}'],
    });
    expect(state.importCursorSql('pgferry', 'orders', undefined).values).toEqual(['orders', 'null']);
  });
});

describe('Function: recordRunSql', () => {
  const plan = { columns: [], staging: { schema: 's', name: 'st', doneName: 'd' }, targetExists: true } as unknown as RunPlan;
  const run: NewRun = {
    runId: 'run-1',
    pipeline: 'orders',
    mode: 'incremental',
    strategy: 'append',
    fullRefresh: false,
    plan,
    windowBounds: { strategy: 'cursor', lower: '1', upper: '9' },
    cursorBefore: undefined,
    chunks: [
      { lower: null, upper: '5' },
      { lower: '5', upper: null },
    ],
  };
  it('records the run as running, replacing an earlier attempt of the same plan', () => {
    expect(state.recordRunSql('pgferry', run)).toEqual({
      text: `INSERT INTO ${RUNS} (run_id, pipeline, status, mode, strategy, full_refresh, window_bounds, plan, chunk_count, cursor_before)
VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (run_id) DO UPDATE SET mode = EXCLUDED.mode, strategy = EXCLUDED.strategy, full_refresh = EXCLUDED.full_refresh,
  window_bounds = EXCLUDED.window_bounds, plan = EXCLUDED.plan, chunk_count = EXCLUDED.chunk_count, cursor_before = EXCLUDED.cursor_before`,
      values: ['run-1', 'orders', 'incremental', 'append', false, '{"strategy":"cursor","lower":"1","upper":"9"}', JSON.stringify(plan), 2, 'null'],
    });
  });
});

describe('Function: runSql', () => {
  it('reads one run', () => {
    expect(state.runSql('pgferry', 'run-1')).toEqual({ text: `SELECT * FROM ${RUNS} WHERE run_id = $1`, values: ['run-1'] });
  });
});

describe('Function: listRunsSql', () => {
  it('reads the newest runs of a pipeline', () => {
    expect(state.listRunsSql('pgferry', 'orders', 10)).toEqual({
      text: `SELECT * FROM ${RUNS} WHERE pipeline = $1 ORDER BY started_at DESC LIMIT $2`,
      values: ['orders', 10],
    });
  });
});

describe('Function: markRunSucceededSql', () => {
  it('records the counts and the cursor (as JSON) of the apply', () => {
    expect(state.markRunSucceededSql('pgferry', { pipeline: 'orders', runId: 'run-1', outcome })).toEqual({
      text: `UPDATE ${RUNS} SET status = 'succeeded', finished_at = clock_timestamp(), rows_extracted = $3,
  rows_inserted = $4, rows_deleted = $5, bytes = $6, cursor_after = $7, error = NULL
WHERE run_id = $2 AND pipeline = $1`,
      values: ['orders', 'run-1', 10, 8, 2, 512, '{"updated_at":"2024-01-02"}'],
    });
  });
});

describe('Function: completeRunSql', () => {
  it('moves the cursor, then marks the run succeeded, each statement with its own values', () => {
    const run = { pipeline: 'orders', runId: 'run-1', outcome };
    expect(state.completeRunSql('pgferry', run)).toEqual([
      state.moveCursorSql('pgferry', { pipeline: 'orders', runId: 'run-1', cursorAfter: outcome.cursorAfter }),
      state.markRunSucceededSql('pgferry', run),
    ]);
    expect(state.completeRunSql('pgferry', run).map((s) => s.values)).toEqual([
      ['orders', 'run-1', '{"updated_at":"2024-01-02"}'],
      ['orders', 'run-1', 10, 8, 2, 512, '{"updated_at":"2024-01-02"}'],
    ]);
  });
});

describe('Function: recordFailedRunSql', () => {
  it('records the failure (creating the row if needed) only while the run is running', () => {
    expect(
      state.recordFailedRunSql('pgferry', { pipeline: 'orders', runId: 'run-1', error: { name: 'DatabaseError', message: 'boom' }, status: 'timed_out' }),
    ).toEqual({
      text: `INSERT INTO ${RUNS} AS r (run_id, pipeline, status, finished_at, error)
VALUES ($1, $2, $4, clock_timestamp(), $3)
ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status, finished_at = clock_timestamp(), error = EXCLUDED.error
WHERE r.status = 'running'`,
      values: ['run-1', 'orders', '{"name":"DatabaseError","message":"boom"}', 'timed_out'],
    });
  });
});

describe('Function: failRunningRunSql', () => {
  it('marks a still-running run failed with the error as JSON', () => {
    expect(state.failRunningRunSql('pgferry', 'run-0', { name: 'LeaseLostError', message: 'lease expired; taken over by run run-1' })).toEqual({
      text: `UPDATE ${RUNS} SET status = 'failed', finished_at = clock_timestamp(), error = $2 WHERE run_id = $1 AND status = 'running'`,
      values: ['run-0', '{"name":"LeaseLostError","message":"lease expired; taken over by run run-1"}'],
    });
  });
});

describe('Function: deleteChunksSql', () => {
  it('forgets the chunks of a run', () => {
    expect(state.deleteChunksSql('pgferry', 'run-1')).toEqual({ text: `DELETE FROM ${CHUNKS} WHERE run_id = $1`, values: ['run-1'] });
  });
});

describe('Function: insertChunksSql', () => {
  it('numbers the chunks from 0, passing lower and upper bounds as two arrays', () => {
    expect(
      state.insertChunksSql('pgferry', 'run-1', [
        { lower: null, upper: '5' },
        { lower: '5', upper: null },
      ]),
    ).toEqual({
      text: `INSERT INTO ${CHUNKS} (run_id, chunk_no, lower_bound, upper_bound)
SELECT $1, n - 1, b.lower_bound, b.upper_bound FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS b(lower_bound, upper_bound, n)`,
      values: ['run-1', [null, '5'], ['5', null]],
    });
  });
});

describe('Function: chunkBoundsSql', () => {
  it('reads the bounds of one chunk', () => {
    expect(state.chunkBoundsSql('pgferry', 'run-1', 3)).toEqual({
      text: `SELECT lower_bound, upper_bound FROM ${CHUNKS} WHERE run_id = $1 AND chunk_no = $2`,
      values: ['run-1', 3],
    });
  });
});

describe('Function: recordChunkSql', () => {
  it('records the rows and bytes of an attempt and clears its error', () => {
    expect(state.recordChunkSql('pgferry', { runId: 'run-1', chunk: 3, rows: 100, bytes: 4096 })).toEqual({
      text: `UPDATE ${CHUNKS} SET rows = $3, bytes = $4, attempts = attempts + 1, finished_at = now(), error = NULL
WHERE run_id = $1 AND chunk_no = $2`,
      values: ['run-1', 3, 100, 4096],
    });
  });
});

describe('Function: recordChunkErrorSql', () => {
  it('records the error of an attempt as JSON', () => {
    expect(state.recordChunkErrorSql('pgferry', { runId: 'run-1', chunk: 3, error: { name: 'TransientDatabaseError', message: 'reset' } })).toEqual({
      text: `UPDATE ${CHUNKS} SET error = $3, attempts = attempts + 1 WHERE run_id = $1 AND chunk_no = $2`,
      values: ['run-1', 3, '{"name":"TransientDatabaseError","message":"reset"}'],
    });
  });
});

describe('Function: lastChunkErrorSql', () => {
  it('reads the error of the first chunk that failed and has not since succeeded', () => {
    expect(state.lastChunkErrorSql('pgferry', 'run-1')).toEqual({
      text: `SELECT error FROM ${CHUNKS} WHERE run_id = $1 AND error IS NOT NULL AND finished_at IS NULL ORDER BY chunk_no LIMIT 1`,
      values: ['run-1'],
    });
  });
});

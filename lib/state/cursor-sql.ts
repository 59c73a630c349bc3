/** SQL text of a pipeline's row of `pipeline_state`: read it, move, reset or import its cursor. */
import type { Statement } from '../db/index.ts';
import { stateTable } from './schema-sql.ts';

/** The pipeline's whole row of `pipeline_state` (no row before its first run). */
export function pipelineStateSql(schema: string, pipeline: string): Statement {
  return { text: `SELECT * FROM ${stateTable(schema, 'pipeline_state')} WHERE pipeline = $1`, values: [pipeline] };
}

/** Whether `pipeline_state` exists (before a first run it does not). */
export function stateTableExistsSql(schema: string): Statement {
  return { text: `SELECT to_regclass(format('%I.pipeline_state', $1::text)) IS NOT NULL AS ok`, values: [schema] };
}

/** The state keys of a file's tables (`<file>/<table>`), in name order. `starts_with`, not LIKE: no character of the name is a wildcard. */
export function tableKeysSql(schema: string, file: string): Statement {
  return {
    text: `SELECT s.pipeline FROM ${stateTable(schema, 'pipeline_state')} AS s WHERE starts_with(s.pipeline, $1 || '/') ORDER BY s.pipeline COLLATE "C"`,
    values: [file],
  };
}

/** Every table of a file with state (`<file>/<table>` keys), each with its latest run, in name order. */
export function tableStatesSql(schema: string, file: string): Statement {
  return {
    text: `SELECT s.pipeline, s.cursor, s.lease_run_id, s.lease_until, s.last_success_run_id, s.last_success_at,
  r.run_id AS last_run_id, r.status AS last_run_status, r.started_at AS last_run_started_at, r.finished_at AS last_run_finished_at, r.error AS last_run_error
FROM ${stateTable(schema, 'pipeline_state')} AS s
LEFT JOIN LATERAL (SELECT x.run_id, x.status, x.started_at, x.finished_at, x.error FROM ${stateTable(schema, 'runs')} AS x
  WHERE x.pipeline = s.pipeline ORDER BY x.started_at DESC LIMIT 1) AS r ON true
WHERE starts_with(s.pipeline, $1 || '/') ORDER BY s.pipeline COLLATE "C"`,
    values: [file],
  };
}

/** What {@link moveCursorSql} needs: the run that holds the lease and the cursor it moves to. */
export interface CursorMove {
  readonly pipeline: string;
  readonly runId: string;
  readonly cursorAfter: unknown;
}

/** Moves the cursor, records the run's success and releases the lease, if `runId` still holds it. */
export function moveCursorSql(schema: string, move: CursorMove): Statement {
  return {
    text: `UPDATE ${stateTable(schema, 'pipeline_state')} SET cursor = $3, lease_run_id = NULL, lease_until = NULL,
  last_success_run_id = $2, last_success_at = now(), updated_at = now()
WHERE pipeline = $1 AND lease_run_id = $2`,
    values: [move.pipeline, move.runId, JSON.stringify(move.cursorAfter ?? null)],
  };
}

/** Forgets the pipeline's cursor unless a live run holds the lease; returns the row only when reset. */
export function resetCursorSql(schema: string, pipeline: string): Statement {
  return {
    text: `UPDATE ${stateTable(schema, 'pipeline_state')} SET cursor = NULL, updated_at = now()
WHERE pipeline = $1 AND (lease_run_id IS NULL OR lease_until < now()) RETURNING pipeline`,
    values: [pipeline],
  };
}

/** Writes an imported cursor unless a live run holds the lease; returns the row only when written. */
export function importCursorSql(schema: string, pipeline: string, cursor: unknown): Statement {
  return {
    text: `INSERT INTO ${stateTable(schema, 'pipeline_state')} AS s (pipeline, cursor) VALUES ($1, $2)
ON CONFLICT (pipeline) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()
  WHERE s.lease_run_id IS NULL OR s.lease_until < now()
RETURNING pipeline`,
    values: [pipeline, JSON.stringify(cursor ?? null)],
  };
}

/** A pipeline's row of `pipeline_state`: read it, reset its cursor, import a cursor exported elsewhere. */
import { query, type Db } from '../db/index.ts';
import { LeaseHeldError } from '../errors.ts';
import { importCursorSql, pipelineStateSql, resetCursorSql, stateTableExistsSql, tableKeysSql, tableStatesSql } from './cursor-sql.ts';

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
  const result = await query(db, pipelineStateSql(schema, pipeline), 'reading the state');
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

/** The state keys of a file's tables (`<file>/<table>`), in name order; none before the state schema exists. */
export async function listTableKeys(db: Db, schema: string, file: string): Promise<string[]> {
  const exists = await query<{ ok: boolean }>(db, stateTableExistsSql(schema), 'reading the state');
  if (!exists.rows[0]?.ok) return [];
  return (await query<{ pipeline: string }>(db, tableKeysSql(schema, file), 'reading the state')).rows.map((r) => r.pipeline);
}

/** A table of a file with state: its row of `pipeline_state` and its latest run. */
export interface TableState extends PipelineState {
  /** The table, `schema.name`: the key without `<file>/`. */
  readonly table: string;
  readonly lastRun: {
    readonly runId: string;
    readonly status: string;
    readonly startedAt: Date;
    readonly finishedAt: Date | null;
    readonly error: unknown;
  } | null;
}

/** Every table of a file with state, with its latest run, in name order (one query); none before the state schema exists. */
export async function listTableStates(db: Db, schema: string, file: string): Promise<TableState[]> {
  const exists = await query<{ ok: boolean }>(db, stateTableExistsSql(schema), 'reading the state');
  if (!exists.rows[0]?.ok) return [];
  const result = await query(db, tableStatesSql(schema, file), 'reading the state');
  return result.rows.map((r) => ({
    pipeline: r.pipeline as string,
    table: (r.pipeline as string).slice(file.length + 1),
    cursor: r.cursor,
    leaseRunId: (r.lease_run_id as string | null) ?? null,
    leaseUntil: (r.lease_until as Date | null) ?? null,
    lastSuccessRunId: (r.last_success_run_id as string | null) ?? null,
    lastSuccessAt: (r.last_success_at as Date | null) ?? null,
    lastRun:
      r.last_run_id === null || r.last_run_id === undefined
        ? null
        : {
            runId: r.last_run_id as string,
            status: r.last_run_status as string,
            startedAt: r.last_run_started_at as Date,
            finishedAt: (r.last_run_finished_at as Date | null) ?? null,
            error: r.last_run_error ?? null,
          },
  }));
}

/** Forgets a pipeline's cursor (the next run extracts everything); refused while a live run holds the lease. */
export async function resetState(db: Db, schema: string, pipeline: string): Promise<boolean> {
  const result = await query(db, resetCursorSql(schema, pipeline), 'resetting the state');
  if (result.rowCount === 0) {
    const state = await getPipelineState(db, schema, pipeline);
    if (state?.leaseRunId) throw new LeaseHeldError(pipeline, state.leaseRunId, state.leaseUntil?.toISOString() ?? 'unknown');
    return false;
  }
  return true;
}

/** `format` of a single-table pipeline's export. */
export const STATE_EXPORT_FORMAT = 'pgferry-state/1';
/** `format` of the export of a file that lists tables: one cursor per table. */
export const TABLES_STATE_EXPORT_FORMAT = 'pgferry-state-tables/1';

/** The portable form of a pipeline's cursor, for `state export` / `state import`. */
export interface StateExport {
  readonly format: typeof STATE_EXPORT_FORMAT;
  readonly pipeline: string;
  readonly cursor: unknown;
  readonly lastSuccessRunId: string | null;
  readonly lastSuccessAt: string | null;
  readonly exportedAt: string;
}

/** The portable form of the cursors of a file's tables, for `state export` / `state import`. */
export interface TablesStateExport {
  readonly format: typeof TABLES_STATE_EXPORT_FORMAT;
  /** The file's pipeline name. */
  readonly pipeline: string;
  readonly tables: readonly {
    /** `schema.name`, as `plan` lists it. */
    readonly table: string;
    readonly cursor: unknown;
    readonly lastSuccessRunId: string | null;
    readonly lastSuccessAt: string | null;
  }[];
  readonly exportedAt: string;
}

/** Writes an imported cursor; refused while a live run holds the lease (it would overwrite the import). */
export async function importCursor(db: Db, schema: string, pipeline: string, cursor: unknown): Promise<void> {
  const result = await query(db, importCursorSql(schema, pipeline, cursor), 'importing the state');
  if (result.rowCount === 0) {
    const state = await getPipelineState(db, schema, pipeline);
    throw new LeaseHeldError(pipeline, state?.leaseRunId ?? 'unknown', state?.leaseUntil?.toISOString() ?? 'unknown');
  }
}

/** SQL text of the pipeline's lease: take, renew, check (fence), release and unlock it. */
import type { Statement } from '../db/index.ts';
import { CONFIG_DEFAULTS } from '../config/types.ts';
import { literal } from '../sql/quote.ts';
import { stateTable } from './schema-sql.ts';

/** How long a Plan waits for the pipeline's row while a live run's Apply holds it, before it counts as held. */
export const LEASE_LOCK_TIMEOUT = '5s';

/** `interval` text of a lease's lifetime in milliseconds (`state.lease_ttl`). */
function ttlInterval(ttlMs: number): string {
  return `${Math.round(ttlMs)} milliseconds`;
}

/** Bounds, for the rest of the transaction, how long taking the lease waits for the pipeline's row lock. */
export function leaseLockTimeoutSql(timeout: string = LEASE_LOCK_TIMEOUT): Statement {
  return { text: `SET LOCAL lock_timeout = ${literal(timeout)}` };
}

/** Which run holds the pipeline's lease, and until when (no row before the pipeline's first run). */
export function leaseHolderSql(schema: string, pipeline: string): Statement {
  return {
    text: `SELECT lease_run_id, lease_until FROM ${stateTable(schema, 'pipeline_state')} WHERE pipeline = $1`,
    values: [pipeline],
  };
}

/** Takes the lease when it is free, expired, or already ours (a retried plan); returns the row only when taken. */
export function acquireLeaseSql(schema: string, pipeline: string, runId: string, ttlMs: number = CONFIG_DEFAULTS.leaseTtlMs): Statement {
  const ps = stateTable(schema, 'pipeline_state');
  return {
    text: `INSERT INTO ${ps} AS s (pipeline, lease_run_id, lease_until)
VALUES ($1, $2, now() + $3::interval)
ON CONFLICT (pipeline) DO UPDATE
  SET lease_run_id = EXCLUDED.lease_run_id, lease_until = EXCLUDED.lease_until, updated_at = now()
  WHERE s.lease_run_id IS NULL OR s.lease_until < now() OR s.lease_run_id = EXCLUDED.lease_run_id
RETURNING s.cursor`,
    values: [pipeline, runId, ttlInterval(ttlMs)],
  };
}

/** Extends the lease of a run that still holds it; no row means it was lost. */
export function renewLeaseSql(schema: string, pipeline: string, runId: string, ttlMs: number = CONFIG_DEFAULTS.leaseTtlMs): Statement {
  return {
    text: `UPDATE ${stateTable(schema, 'pipeline_state')} SET lease_until = now() + $3::interval
WHERE pipeline = $1 AND lease_run_id = $2 RETURNING pipeline`,
    values: [pipeline, runId, ttlInterval(ttlMs)],
  };
}

/** The fencing check: locks the pipeline's row while this run holds the lease, until the transaction ends. */
export function fenceSql(schema: string, pipeline: string, runId: string): Statement {
  return {
    text: `SELECT cursor FROM ${stateTable(schema, 'pipeline_state')} WHERE pipeline = $1 AND lease_run_id = $2 FOR UPDATE`,
    values: [pipeline, runId],
  };
}

/** Releases the lease if `runId` holds it; no row changes otherwise. */
export function releaseLeaseSql(schema: string, pipeline: string, runId: string): Statement {
  return {
    text: `UPDATE ${stateTable(schema, 'pipeline_state')} SET lease_run_id = NULL, lease_until = NULL, updated_at = now()
WHERE pipeline = $1 AND lease_run_id = $2`,
    values: [pipeline, runId],
  };
}

/** Releases the lease whoever holds it (`state unlock`), returning the run that held it (`holder`, null if none). */
export function unlockSql(schema: string, pipeline: string): Statement {
  const ps = stateTable(schema, 'pipeline_state');
  return {
    text: `UPDATE ${ps} s SET lease_run_id = NULL, lease_until = NULL, updated_at = now()
FROM (SELECT lease_run_id FROM ${ps} WHERE pipeline = $1 FOR UPDATE) old
WHERE s.pipeline = $1 RETURNING old.lease_run_id AS holder`,
    values: [pipeline],
  };
}

/** SQL text of the state schema itself: its tables, their DDL and the check that they exist. */
import type { Statement } from '../db/index.ts';
import { ident, literal } from '../sql/quote.ts';

/** Run statuses `runs.status` accepts: `timed_out` and `aborted` are recorded by the cleanup task. */
export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'timed_out', 'aborted'] as const;

/** The CHECK constraint of `runs.status`. */
const STATUS_CHECK = `CHECK (status IN (${RUN_STATUSES.map((s) => literal(s)).join(', ')}))`;

/** `"schema".table` of a state table. */
export function stateTable(schema: string, table: 'pipeline_state' | 'runs' | 'run_chunks'): string {
  return `${ident(schema)}.${ident(table)}`;
}

/** Every relation {@link stateSchemaSql} creates in the state schema. */
export const STATE_RELATIONS = ['pipeline_state', 'runs', 'run_chunks', 'runs_pipeline_started_at'] as const;

/** Whether the state schema exists, and whether every state relation does (then its DDL need not run). */
export function stateReadySql(schema: string): Statement {
  return {
    text: `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema,
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY ($2::text[])) = cardinality($2::text[])
  AND EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relname = 'runs' AND k.contype = 'c' AND pg_get_constraintdef(k.oid) LIKE '%aborted%') AS ready`,
    values: [schema, STATE_RELATIONS],
  };
}

/**
 * DDL of the state tables, idempotent. An advisory lock serialises concurrent first runs, which would
 * otherwise race on `CREATE TABLE IF NOT EXISTS`. `createSchema: false` leaves out `CREATE SCHEMA IF NOT
 * EXISTS`, which needs CREATE on the database even when the schema exists.
 */
export function stateSchemaSql(schema: string, options: { createSchema?: boolean } = {}): string[] {
  const ps = stateTable(schema, 'pipeline_state');
  const runs = stateTable(schema, 'runs');
  const chunks = stateTable(schema, 'run_chunks');
  return [
    `SELECT pg_advisory_xact_lock(hashtext(${literal(`pgferry state ${schema}`)}))`,
    ...(options.createSchema === false ? [] : [`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`]),
    `CREATE TABLE IF NOT EXISTS ${ps} (
  pipeline text PRIMARY KEY,
  cursor jsonb,
  lease_run_id text,
  lease_until timestamptz,
  last_success_run_id text,
  last_success_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
)`,
    `CREATE TABLE IF NOT EXISTS ${runs} (
  run_id text PRIMARY KEY,
  pipeline text NOT NULL,
  status text NOT NULL ${STATUS_CHECK},
  mode text,
  strategy text,
  full_refresh boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  window_bounds jsonb,
  plan jsonb,
  chunk_count integer,
  rows_extracted bigint,
  rows_inserted bigint,
  rows_deleted bigint,
  bytes bigint,
  cursor_before jsonb,
  cursor_after jsonb,
  error jsonb
)`,
    // State schemas made before the cleanup task knew only running, succeeded and failed.
    `ALTER TABLE ${runs} DROP CONSTRAINT IF EXISTS runs_status_check, ADD CONSTRAINT runs_status_check ${STATUS_CHECK}`,
    `CREATE INDEX IF NOT EXISTS runs_pipeline_started_at ON ${runs} (pipeline, started_at DESC)`,
    `CREATE TABLE IF NOT EXISTS ${chunks} (
  run_id text NOT NULL REFERENCES ${runs} (run_id) ON DELETE CASCADE,
  chunk_no integer NOT NULL,
  lower_bound text,
  upper_bound text,
  rows bigint,
  bytes bigint,
  attempts integer NOT NULL DEFAULT 0,
  finished_at timestamptz,
  error jsonb,
  PRIMARY KEY (run_id, chunk_no)
)`,
  ];
}

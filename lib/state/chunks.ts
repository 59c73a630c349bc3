/** A run's chunks in `run_chunks`: their bounds, and what each attempt extracted or why it failed. */
import { query, type Db } from '../db/index.ts';
import { redact } from '../connections/index.ts';
import { DatabaseError } from '../errors.ts';
import { chunkBoundsSql, lastChunkErrorSql, recordChunkErrorSql, recordChunkSql } from './chunks-sql.ts';
import type { RecordedError } from './types.ts';

/** Bounds of one chunk, as text of the chunk column's type (null = open). */
export async function getChunk(db: Db, schema: string, runId: string, chunk: number): Promise<{ lower: string | null; upper: string | null }> {
  const result = await query<{ lower_bound: string | null; upper_bound: string | null }>(db, chunkBoundsSql(schema, runId, chunk), 'reading the chunk');
  const row = result.rows[0];
  if (!row) throw new DatabaseError(`run ${runId} has no chunk ${chunk}`);
  return { lower: row.lower_bound, upper: row.upper_bound };
}

/** Records what a chunk extracted (informational; the authoritative record is in the target's done table). */
export async function recordChunk(db: Db, schema: string, runId: string, chunk: number, rows: number, bytes: number): Promise<void> {
  await query(db, recordChunkSql(schema, { runId, chunk, rows, bytes }), 'recording the chunk');
}

/** Keeps the last error of a chunk, so a failure reported by the Map as a whole can name its real cause. */
export async function recordChunkError(db: Db, schema: string, runId: string, chunk: number, error: unknown): Promise<void> {
  const e = error instanceof Error ? { name: error.name, message: redact(error.message) } : { name: 'Error', message: redact(String(error)) };
  await query(db, recordChunkErrorSql(schema, { runId, chunk, error: e }), 'recording the chunk error');
}

/** The error of the most recently failed chunk of a run that has not since succeeded, if any. */
export async function lastChunkError(db: Db, schema: string, runId: string): Promise<RecordedError | undefined> {
  const result = await query<{ error: RecordedError }>(db, lastChunkErrorSql(schema, runId), 'reading chunk errors');
  return result.rows[0]?.error;
}

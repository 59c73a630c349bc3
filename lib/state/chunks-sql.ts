/** SQL text of the `run_chunks` table: a run's chunk bounds and what each chunk extracted. */
import type { Statement } from '../db/index.ts';
import { stateTable } from './schema-sql.ts';
import type { NewRun, RecordedError } from './types.ts';

/** Forgets the chunks of a run (those of an earlier attempt of its plan). */
export function deleteChunksSql(schema: string, runId: string): Statement {
  return { text: `DELETE FROM ${stateTable(schema, 'run_chunks')} WHERE run_id = $1`, values: [runId] };
}

/** Records a run's chunk bounds, numbered from 0 in the order given. */
export function insertChunksSql(schema: string, runId: string, chunks: NewRun['chunks']): Statement {
  return {
    text: `INSERT INTO ${stateTable(schema, 'run_chunks')} (run_id, chunk_no, lower_bound, upper_bound)
SELECT $1, n - 1, b.lower_bound, b.upper_bound FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS b(lower_bound, upper_bound, n)`,
    values: [runId, chunks.map((c) => c.lower), chunks.map((c) => c.upper)],
  };
}

/** The bounds of one chunk of a run. */
export function chunkBoundsSql(schema: string, runId: string, chunk: number): Statement {
  return {
    text: `SELECT lower_bound, upper_bound FROM ${stateTable(schema, 'run_chunks')} WHERE run_id = $1 AND chunk_no = $2`,
    values: [runId, chunk],
  };
}

/** What {@link recordChunkSql} needs: the chunk and what it extracted. */
export interface ExtractedChunk {
  readonly runId: string;
  readonly chunk: number;
  readonly rows: number;
  readonly bytes: number;
}

/** Records what a chunk extracted, counts the attempt and clears an earlier attempt's error. */
export function recordChunkSql(schema: string, extracted: ExtractedChunk): Statement {
  return {
    text: `UPDATE ${stateTable(schema, 'run_chunks')} SET rows = $3, bytes = $4, attempts = attempts + 1, finished_at = now(), error = NULL
WHERE run_id = $1 AND chunk_no = $2`,
    values: [extracted.runId, extracted.chunk, extracted.rows, extracted.bytes],
  };
}

/** What {@link recordChunkErrorSql} needs: the chunk and the error of its attempt. */
export interface FailedChunk {
  readonly runId: string;
  readonly chunk: number;
  readonly error: RecordedError;
}

/** Records the error of a chunk's attempt and counts the attempt. */
export function recordChunkErrorSql(schema: string, failed: FailedChunk): Statement {
  return {
    text: `UPDATE ${stateTable(schema, 'run_chunks')} SET error = $3, attempts = attempts + 1 WHERE run_id = $1 AND chunk_no = $2`,
    values: [failed.runId, failed.chunk, JSON.stringify(failed.error)],
  };
}

/** The error of the first chunk of a run that failed and has not since succeeded. */
export function lastChunkErrorSql(schema: string, runId: string): Statement {
  return {
    text: `SELECT error FROM ${stateTable(schema, 'run_chunks')} WHERE run_id = $1 AND error IS NOT NULL AND finished_at IS NULL ORDER BY chunk_no LIMIT 1`,
    values: [runId],
  };
}

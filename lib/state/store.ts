/**
 * Reads and writes the state database: the pipeline's cursor and lease, runs and their chunks. One module per
 * topic, re-exported here so callers import from one place; their SQL comes from the builders of ./sql.ts.
 */
export { ensureStateSchema } from './schema.ts';
export { acquireLease, fence, releaseLease, renewLease, unlock } from './lease.ts';
export {
  getPipelineState,
  importCursor,
  listTableKeys,
  listTableStates,
  resetState,
  STATE_EXPORT_FORMAT,
  TABLES_STATE_EXPORT_FORMAT,
  type PipelineState,
  type StateExport,
  type TableState,
  type TablesStateExport,
} from './cursor.ts';
export { completeRun, createRun, failRun, getRun, listRuns, runErrors, summarize } from './runs.ts';
export { getChunk, lastChunkError, recordChunk, recordChunkError } from './chunks.ts';
export type { NewRun, RunOutcome } from './types.ts';

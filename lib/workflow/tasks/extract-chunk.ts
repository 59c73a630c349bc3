/** Task ExtractChunk: streams one chunk from the source into the run's staging table. */
import { InternalError } from '../../errors.ts';
import { loadChunk } from '../../sink/staging.ts';
import { chunkSelect } from '../planning.ts';
import { getChunk, recordChunk, recordChunkError, renewLease } from '../../state/store.ts';
import { withHeartbeat } from '../heartbeat.ts';
import { withSessions } from '../sessions.ts';
import { requirePlan } from './run-record.ts';
import type { ChunkInput, ChunkOutput, TaskDeps } from '../types.ts';

/** Extracts one chunk; retrying it never duplicates rows in staging (see loadChunk). */
export async function extractChunk(input: ChunkInput, deps: TaskDeps): Promise<ChunkOutput> {
  const config = deps.pipeline(input.pipeline);
  const schema = config.state.schema;
  return withSessions(config, deps, { source: true, target: true }, async ({ state, source, target }) => {
    if (!source || !target) throw new InternalError('extract needs source and target connections');
    try {
      // A chunk of a run that is no longer current (failed, cleaned up, taken over) stops here.
      await renewLease(state, schema, config.name, input.runId, config.state.lease_ttl);
      const loaded = await withHeartbeat(config, deps, input.runId, [source, target], async () => {
        const { plan } = await requirePlan(state, schema, input.runId);
        const bounds = await getChunk(state, schema, input.runId, input.chunk);
        const select = chunkSelect(config, plan, bounds);
        return loadChunk(source, target, plan, input.chunk, select);
      });
      await recordChunk(state, schema, input.runId, input.chunk, loaded.rows, loaded.bytes);
      if (loaded.skipped) deps.log.info('chunk was already loaded by an earlier attempt', { runId: input.runId, chunk: input.chunk });
      return { chunk: input.chunk, rows: loaded.rows, bytes: loaded.bytes };
    } catch (error) {
      // A Distributed Map reports only "threshold exceeded"; keep the real cause where RecordFailure finds it.
      await recordChunkError(state, schema, input.runId, input.chunk, error).catch(() => undefined);
      throw error;
    }
  });
}

/** Task Plan: takes the lease, fixes the columns and chunks, records the run, creates staging. */
import { InternalError } from '../../errors.ts';
import { createStaging, dropLeftoverStaging } from '../../sink/staging.ts';
import { acquireLease, createRun, ensureStateSchema } from '../../state/store.ts';
import { computePlan, stagingBecomesTarget } from '../planning.ts';
import { parseRunRequest, strategyLabel } from '../request.ts';
import { withHeartbeat } from '../heartbeat.ts';
import { withSessions } from '../sessions.ts';
import type { PlanInput, PlanOutput, TaskDeps } from '../types.ts';

/** Plans a run. Nothing in the target changes here but the run's own staging tables. */
export async function planRun(input: PlanInput, deps: TaskDeps): Promise<PlanOutput> {
  const config = deps.pipeline(input.pipeline);
  const request = parseRunRequest(input.request);
  return withSessions(config, deps, { source: true, target: true }, async ({ state, source, target }) => {
    if (!source || !target) throw new InternalError('plan needs source and target connections');
    await ensureStateSchema(state, config.state.schema);
    const { cursor } = await acquireLease(state, config.state.schema, config.name, input.runId, config.state.lease_ttl);
    return withHeartbeat(config, deps, input.runId, [source, target], async () => {
      const { plan, chunks, chunkRows } = await computePlan(source, target, config, input.runId, {
        stored: cursor,
        fullRefresh: request.fullRefresh,
        log: deps.log,
      });
      if (plan.window.note) deps.log.info(plan.window.note, { pipeline: config.name, runId: input.runId, lower: plan.window.lower, upper: plan.window.upper });
      // Recorded before staging exists, so a failure from here on can always find and drop it.
      await createRun(state, config.state.schema, {
        runId: input.runId,
        pipeline: config.name,
        ...strategyLabel(config),
        fullRefresh: request.fullRefresh,
        plan,
        windowBounds: { strategy: plan.window.strategy, lower: plan.window.lower, upper: plan.window.upper, full: plan.window.full },
        cursorBefore: cursor ?? null,
        chunks,
      });
      const leftovers = await dropLeftoverStaging(target, config.sink.staging.schema, config.name, input.runId);
      if (leftovers.length > 0) deps.log.warn('dropped staging tables left by earlier runs', { pipeline: config.name, tables: leftovers });
      await createStaging(target, plan, { pipeline: config.name, runId: input.runId, logged: stagingBecomesTarget(config) });
      deps.log.info('planned run', { pipeline: config.name, runId: input.runId, chunks: chunks.length, chunkRows, columns: plan.columns.length });
      return { pipeline: input.pipeline, runId: input.runId, chunks: chunks.map((_, i) => i), maxParallelChunks: config.source.options.max_parallel_chunks };
    });
  });
}

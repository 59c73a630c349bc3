/** Task Finalize: drops the run's staging tables and returns the run summary. */
import { DatabaseError } from '../../errors.ts';
import { dropStaging } from '../../sink/staging.ts';
import { getRun, summarize } from '../../state/store.ts';
import type { RunSummary } from '../../state/types.ts';
import { withSessions } from '../sessions.ts';
import type { RunInput, TaskDeps } from '../types.ts';

/** Finishes a successful run. A staging table that cannot be dropped is logged, not fatal: the next run drops it. */
export async function finalizeRun(input: RunInput, deps: TaskDeps): Promise<RunSummary> {
  const config = deps.pipeline(input.pipeline);
  return withSessions(config, deps, { target: true }, async ({ state, target }) => {
    const run = await getRun(state, config.state.schema, input.runId);
    if (!run) throw new DatabaseError(`run ${input.runId} is not recorded`);
    if (run.plan && target) {
      await dropStaging(target, run.plan).catch((error: unknown) => {
        deps.log.warn('could not drop the staging table; the next run will', { runId: input.runId, error: String(error) });
      });
    }
    const summary = summarize(run);
    deps.log.info('run finished', { ...summary });
    return summary;
  });
}

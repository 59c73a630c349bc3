/** Lambda of the cleanup task: on an execution that ended FAILED, TIMED_OUT or ABORTED, records the run's end, releases the lease, drops staging. */
import { LambdaEnv } from '../lib/aws/constants.ts';
import { taskHandler } from '../lib/aws/handler.ts';
import { cleanupEvent, cleanupInputOf } from '../lib/workflow/tasks/cleanup.ts';
import type { TaskDeps } from '../lib/workflow/types.ts';

const prefix = process.env[LambdaEnv.namePrefix] ?? 'pgferry';

/** The run an event is about, for the logs and the metrics' pipeline dimension; none for an event that is not one. */
function keys(event: unknown): { pipeline?: string; runId?: string } {
  try {
    const input = cleanupInputOf(event, prefix);
    return input ? { pipeline: input.pipeline, runId: input.runId } : {};
  } catch {
    return {};
  }
}

export const handler = taskHandler('cleanup', (event: object, deps: TaskDeps) => cleanupEvent(event, deps, prefix), { keys });

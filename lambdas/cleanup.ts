/** Lambda of the cleanup task: on an execution that ended FAILED, TIMED_OUT or ABORTED, records the run's end, releases the lease, drops staging. */
import { LambdaEnv } from '../lib/aws/constants.ts';
import { taskHandler } from '../lib/aws/handler.ts';
import { cleanupEvent } from '../lib/workflow/tasks/cleanup.ts';
import type { TaskDeps } from '../lib/workflow/types.ts';

export const handler = taskHandler('cleanup', (event: object, deps: TaskDeps) => cleanupEvent(event, deps, process.env[LambdaEnv.namePrefix] ?? 'pgferry'));

/** Lambda of the Finalize task: drops staging, returns the run summary and emits the run's metrics. */
import { taskHandler } from '../lib/aws/handler.ts';
import { finalizeRun } from '../lib/workflow/tasks/finalize.ts';

export const handler = taskHandler('finalize', finalizeRun);

/** Lambda of the Apply task: the load strategy's SQL and the cursor move, in one target transaction. */
import { taskHandler } from '../lib/aws/handler.ts';
import { applyRun } from '../lib/workflow/tasks/apply.ts';

export const handler = taskHandler('apply', applyRun);

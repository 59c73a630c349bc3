/** Lambda of the Plan task: validates the execution input, takes the lease, splits the run into chunks, creates staging. */
import { taskHandler } from '../lib/aws/handler.ts';
import { planRun } from '../lib/workflow/tasks/plan.ts';

export const handler = taskHandler('plan', planRun);

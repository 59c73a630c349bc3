/** Lambda of the RecordFailure task: records the failed run, releases the lease, drops staging. */
import { taskHandler } from '../lib/aws/handler.ts';
import { recordFailure } from '../lib/workflow/tasks/record-failure.ts';

export const handler = taskHandler('recordFailure', recordFailure);

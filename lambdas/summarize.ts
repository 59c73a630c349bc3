/** Lambda of the Summarize task of a file's machine: every table run's outcome, and the file run's status. */
import { taskHandler } from '../lib/aws/handler.ts';
import { summarizeTables } from '../lib/workflow/tasks/summarize.ts';

export const handler = taskHandler('summarize', summarizeTables);

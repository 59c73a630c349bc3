/** Lambda of the Tables task of a file's machine: what the file's entries resolve to on the source now. */
import { taskHandler } from '../lib/aws/handler.ts';
import { listTables } from '../lib/workflow/tasks/tables.ts';

export const handler = taskHandler('tables', listTables);

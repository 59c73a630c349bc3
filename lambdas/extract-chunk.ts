/** Lambda of the ExtractChunk task: streams one chunk from the source into the run's staging table with COPY. */
import { taskHandler } from '../lib/aws/handler.ts';
import { extractChunk } from '../lib/workflow/tasks/extract-chunk.ts';

export const handler = taskHandler('extractChunk', extractChunk);

/** Pipeline files: schema, parsing and validation (the file's reference: docs/pipeline-file.md). */
export { loadPipelineDir, loadPipelineFile, parsePipeline } from './parse.ts';
export { PipelineSchema } from './schema.ts';
export * from './types.ts';

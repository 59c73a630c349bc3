/** Pipeline files: schema, parsing and validation (SPEC 3). */
export { loadPipelineDir, loadPipelineFile, parsePipeline } from './parse.ts';
export { PipelineSchema } from './schema.ts';
export * from './types.ts';

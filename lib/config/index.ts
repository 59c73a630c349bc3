/** Pipeline files: schema, parsing and validation (the file's reference: docs/pipeline-file.md). */
export { loadPipelineDir, loadPipelineFile, loadPipelineSource, parsePipeline, parsePipelineFile } from './parse.ts';
export {
  configForRef,
  isTableRunRef,
  MAX_PARALLEL_TABLES,
  tableConfig,
  tableKey,
  tableRunRef,
  type PipelineFile,
  type TableEntry,
  type TablesFile,
} from './tables.ts';
export { formatTableName, parseTableName } from './table-name.ts';
export { PipelineSchema } from './schema.ts';
export * from './types.ts';

/** Pipeline files: schema, parsing and validation (the file's reference: docs/pipeline-file.md). */
export { loadPipelineDir, loadPipelineFile, loadPipelineFiles, loadPipelineSource, parsePipeline, parsePipelineFile } from './parse.ts';
export {
  configForRef,
  fromPortableFile,
  isTableRunRef,
  pipelineKeyOf,
  MAX_PARALLEL_TABLES,
  tableConfig,
  tableKey,
  tableRunRef,
  toPortableFile,
  type PortableTablesFile,
  type PipelineFile,
  type TableEntry,
  type TablesFile,
} from './tables.ts';
export { formatTableName, parseTableName } from './table-name.ts';
export { PipelineSchema } from './schema.ts';
export * from './types.ts';

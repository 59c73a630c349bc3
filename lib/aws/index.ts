/** Runtime of the deployed task Lambdas: bundled pipelines, dependencies, Powertools, the middy handler. Never imports aws-cdk-lib. */
export * from './constants.ts';
export { BUNDLE_VERSION, bundledPipelineLookup, parsePipelineBundle, pipelineLookup, serializePipelines, type PipelineBundle } from './bundled-pipelines.ts';
export { lambdaDeps } from './deps.ts';
export { taskHandler, type TaskHandlerOptions } from './handler.ts';
export { createPowertools, redactFields, sharedPowertools, taskLogger, type Powertools } from './powertools.ts';
export { TASK_METRICS, type MetricsSink } from './task-metrics.ts';

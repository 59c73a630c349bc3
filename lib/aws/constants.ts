/**
 * Names shared by the deployed Lambdas and the CDK app that deploys them (which may import this file;
 * it imports nothing), so the environment, the bundled files and the metrics agree on both sides.
 */

/** Environment variables the task Lambdas read. */
export const LambdaEnv = {
  /** Absolute path of the bundled pipelines file. @default `$LAMBDA_TASK_ROOT/pipelines.json` */
  pipelinesFile: 'PGFERRY_PIPELINES_FILE',
  /** Comma-separated names of the pipelines a function serves; any other name is refused. @default every bundled pipeline */
  pipelines: 'PGFERRY_PIPELINES',
  /** The deployment's namePrefix: state machines are `<namePrefix>-<pipeline>` (the cleanup maps events back). */
  namePrefix: 'PGFERRY_NAME_PREFIX',
} as const;

/** Files the CDK app copies into every task Lambda's asset, beside the bundled code. */
export const BundledFiles = {
  /** The validated pipeline configurations (see bundled-pipelines.ts); not an env var: Lambda allows 4 KB of those. */
  pipelines: 'pipelines.json',
  /** The RDS certificate authorities, when the deploy settings name a bundle; `PGFERRY_CA_BUNDLE` points at it. */
  caBundle: 'rds-ca-bundle.pem',
} as const;

/** Where the Lambda runtime unpacks the asset. */
export const LAMBDA_TASK_ROOT = '/var/task';

/** CloudWatch namespace, Powertools service name and metric names of the task Lambdas. Dimensions: service, pipeline. */
export const Metrics = {
  namespace: 'pgferry',
  service: 'pgferry',
  dimension: 'pipeline',
  names: {
    /** Plan: chunks the run was split into. */
    chunks: 'Chunks',
    /** ExtractChunk: rows, bytes and milliseconds of one chunk. */
    chunkRows: 'ChunkRows',
    chunkBytes: 'ChunkBytes',
    chunkDuration: 'ChunkDuration',
    /** Apply: milliseconds of the apply transaction. */
    applyDuration: 'ApplyDuration',
    /** Finalize: the run's totals and duration, and one succeeded run. */
    rowsExtracted: 'RowsExtracted',
    rowsInserted: 'RowsInserted',
    rowsDeleted: 'RowsDeleted',
    bytes: 'Bytes',
    runDuration: 'RunDuration',
    runsSucceeded: 'RunsSucceeded',
    /** RecordFailure: one failed run. */
    runsFailed: 'RunsFailed',
    /** Plan found another run holding the lease. */
    runsSkipped: 'RunsSkipped',
    /** Cleanup: one run whose end it recorded (it ended outside the state machine's failure path). */
    runsCleanedUp: 'RunsCleanedUp',
    /** Any task that threw (retried attempts included). */
    taskErrors: 'TaskErrors',
  },
} as const;

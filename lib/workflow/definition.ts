/**
 * THE state machine definition (Amazon States Language, JSONPath). The CDK stack deploys it with Lambda
 * ARNs as resources and the local runner executes it with in-process task functions, so what is tested
 * locally is what is deployed.
 */
import type { PipelineConfig } from '../config/index.ts';
import { ErrorNames, RETRYABLE_ERRORS } from '../errors.ts';

/** Names of the Task states; the local runner maps each to its task function. */
export const TaskStates = {
  plan: 'Plan',
  extractChunk: 'ExtractChunk',
  apply: 'Apply',
  finalize: 'Finalize',
  recordFailure: 'RecordFailure',
} as const;
export type TaskKey = keyof typeof TaskStates;

/** Every task Lambda of a deployment: the state machine's tasks, and the cleanup its status-change events run. */
export const FUNCTION_KEYS = ['plan', 'extractChunk', 'apply', 'finalize', 'recordFailure', 'cleanup'] as const;
export type FunctionKey = (typeof FUNCTION_KEYS)[number];

/**
 * The connections of the pipeline files each task opens (every task opens the state's). On AWS a task's role
 * may read exactly the secrets these name, across every pipeline of the deployment.
 */
export const TASK_CONNECTIONS: Readonly<Record<FunctionKey, readonly ('source' | 'sink' | 'state')[]>> = {
  plan: ['source', 'sink', 'state'],
  extractChunk: ['source', 'sink', 'state'],
  apply: ['sink', 'state'],
  finalize: ['sink', 'state'],
  recordFailure: ['sink', 'state'],
  cleanup: ['sink', 'state'],
};

/** The task Lambdas of a file that lists tables (deployed only when a file does). */
export const FILE_FUNCTION_KEYS = ['tables', 'summarize'] as const;
export type FileFunctionKey = (typeof FILE_FUNCTION_KEYS)[number];

/** The connections of a file each of its task Lambdas opens: Tables reads the source catalog and the state; Summarize the state (the failed runs' errors). */
export const FILE_TASK_CONNECTIONS: Readonly<Record<FileFunctionKey, readonly ('source' | 'sink' | 'state')[]>> = {
  tables: ['source', 'state'],
  summarize: ['state'],
};

/** The resource (Lambda ARN) of each task. */
export type TaskResources = Readonly<Record<TaskKey, string>>;

/** Longest a task Lambda may run: Lambda's own limit. */
export const LAMBDA_TIMEOUT_SECONDS = 900;

/**
 * The Task states' TimeoutSeconds: a little above the function's, so a task that runs too long always ends
 * with the Lambda's own timeout error (Sandbox.Timedout), never in a race with the state's States.Timeout.
 */
export const TASK_TIMEOUT_SECONDS = LAMBDA_TIMEOUT_SECONDS + 30;

/**
 * Largest Plan output the definition accepts, in bytes. Step Functions refuses a state's input or output
 * over 256 KiB with States.DataLimitExceeded, which no Catch sees; the margin leaves room for the Catch
 * that adds an error (Cause up to 32 KiB) to the same document.
 */
export const MAX_PLAN_OUTPUT_BYTES = 256 * 1024 - 40 * 1024;

/** Longest a whole run may take before the execution times out (and the timed-out alarm fires): 24 hours. */
export const EXECUTION_TIMEOUT_SECONDS = 24 * 3600;

/** Errors of the Lambda service itself that are worth a retry, as AWS recommends. */
const LAMBDA_SERVICE_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'] as const;

/** A task the function's reserved concurrency had no room for; it waits for a running one to end (up to 15 minutes). */
export const THROTTLED = 'Lambda.TooManyRequestsException';

/**
 * How the tasks are retried; data errors are not. A throttled task (reserved concurrency reached) waits as
 * long as a run of other chunks may take: 5 s doubling to 300 s, 60 attempts, about 2.5 hours on average.
 * Transient database and Lambda errors are retried across an RDS Multi-AZ failover (60-120 s): 3, 6, 12,
 * 24, 48, 96, 120, 120 s at most (429 s), about 215 s expected under full jitter, plus each attempt's own
 * connect timeout.
 */
export const RETRY_POLICY = [
  { ErrorEquals: [THROTTLED], IntervalSeconds: 5, MaxAttempts: 60, BackoffRate: 2, MaxDelaySeconds: 300, JitterStrategy: 'FULL' },
  {
    ErrorEquals: [...RETRYABLE_ERRORS, ...LAMBDA_SERVICE_ERRORS],
    IntervalSeconds: 3,
    MaxAttempts: 8,
    BackoffRate: 2,
    MaxDelaySeconds: 120,
    JitterStrategy: 'FULL',
  },
] as const;

/** A state machine definition, as JSON. */
export type StateMachineDefinition = Record<string, unknown> & { StartAt: string; States: Record<string, unknown> };

function task(resource: string, parameters: Record<string, unknown>, rest: Record<string, unknown>): Record<string, unknown> {
  return { Type: 'Task', Resource: resource, Parameters: parameters, TimeoutSeconds: TASK_TIMEOUT_SECONDS, Retry: RETRY_POLICY, ...rest };
}

const toFailure = { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: TaskStates.recordFailure };

/**
 * Builds the definition of one pipeline's state machine: Plan, a Distributed Map of ExtractChunk over
 * chunk numbers, Apply, Finalize; every failure goes to RecordFailure and then a Fail state that carries
 * the error RecordFailure recorded. Only chunk numbers travel through the execution (bounds stay in the
 * state database) and Plan refuses an output over {@link MAX_PLAN_OUTPUT_BYTES}; a Distributed Map keeps
 * each chunk's events in its own child execution, away from the 25,000-event history limit. What ends a
 * run outside these states (the execution's timeout, StopExecution, States.DataLimitExceeded) is cleaned
 * up by the cleanup task on the execution's status-change event.
 */
export function buildDefinition(pipeline: PipelineConfig, resources: TaskResources): StateMachineDefinition {
  return runDefinition(`pgferry pipeline ${pipeline.name}`, resources, {
    pipeline: { pipeline: pipeline.name },
    request: { 'request.$': '$' },
    concurrency: { MaxConcurrency: pipeline.source.options.max_parallel_chunks },
  });
}

/**
 * The definition of a file's table machine: one table's run, as {@link buildDefinition}'s, started by the file's
 * machine (see buildFileDefinition) with `{"pipeline": <the table's state key>, "request": {...}}`. Each table's
 * chunks run `max_parallel_chunks` at a time as its entry sets it (Plan's output carries it).
 */
export function buildTableDefinition(file: string, resources: TaskResources): StateMachineDefinition {
  return runDefinition(`pgferry tables of ${file}: one table's run`, resources, {
    pipeline: { 'pipeline.$': '$$.Execution.Input.pipeline' },
    request: { 'request.$': '$$.Execution.Input.request' },
    concurrency: { MaxConcurrencyPath: '$.maxParallelChunks' },
  });
}

/** What differs between a pipeline's machine and a table machine: where the pipeline, the request and the chunk concurrency come from. */
interface RunShape {
  readonly pipeline: Record<string, unknown>;
  readonly request: Record<string, unknown>;
  readonly concurrency: Record<string, unknown>;
}

function runDefinition(comment: string, resources: TaskResources, shape: RunShape): StateMachineDefinition {
  const run = { 'pipeline.$': '$.pipeline', 'runId.$': '$.runId' };
  return {
    Comment: comment,
    TimeoutSeconds: EXECUTION_TIMEOUT_SECONDS,
    StartAt: TaskStates.plan,
    States: {
      [TaskStates.plan]: task(
        resources.plan,
        { ...shape.pipeline, 'runId.$': '$$.Execution.Name', ...shape.request },
        {
          Catch: [{ ErrorEquals: [ErrorNames.leaseHeld], ResultPath: '$.error', Next: 'AlreadyRunning' }, toFailure],
          Next: 'ExtractChunks',
        },
      ),
      ExtractChunks: {
        Type: 'Map',
        ItemsPath: '$.chunks',
        ItemSelector: { 'pipeline.$': '$.pipeline', 'runId.$': '$.runId', 'chunk.$': '$$.Map.Item.Value' },
        ...shape.concurrency,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: TaskStates.extractChunk,
          States: {
            [TaskStates.extractChunk]: task(
              resources.extractChunk,
              { 'pipeline.$': '$.pipeline', 'runId.$': '$.runId', 'chunk.$': '$.chunk' },
              { ResultPath: null, OutputPath: '$.chunk', End: true },
            ),
          },
        },
        ResultPath: null,
        Catch: [toFailure],
        Next: TaskStates.apply,
      },
      [TaskStates.apply]: task(resources.apply, run, { ResultPath: null, Catch: [toFailure], Next: TaskStates.finalize }),
      [TaskStates.finalize]: task(resources.finalize, run, { Catch: [toFailure], End: true }),
      AlreadyRunning: {
        Type: 'Pass',
        Comment: 'Another run holds the lease: nothing was changed.',
        Parameters: { status: 'skipped', ...shape.pipeline, 'runId.$': '$$.Execution.Name', 'error.$': '$.error' },
        End: true,
      },
      [TaskStates.recordFailure]: task(
        resources.recordFailure,
        { ...shape.pipeline, 'runId.$': '$$.Execution.Name', 'error.$': '$.error' },
        {
          // Its output's `failure` is the recorded error as {Error, Cause}: what the Fail state shows.
          ResultPath: '$.recorded',
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.recordError', Next: 'FailedUnrecorded' }],
          Next: 'Failed',
        },
      ),
      Failed: { Type: 'Fail', Comment: 'The error recorded in runs.error.', ErrorPath: '$.recorded.failure.Error', CausePath: '$.recorded.failure.Cause' },
      FailedUnrecorded: {
        Type: 'Fail',
        Comment: "RecordFailure itself failed; the cleanup task records the run from the execution's status-change event.",
        ErrorPath: '$.error.Error',
        CausePath: '$.error.Cause',
      },
    },
  };
}

/** The Fail state's error of a file's run in which a table failed (the other tables' results stand). */
export const TABLES_FAILED = 'TablesFailed';

/** Names of the states of a file's machine that the local runner maps to in-process handlers. */
export const FileStates = { tables: 'Tables', runTable: 'RunTable', summarize: 'Summarize' } as const;

/** The resources of a file's machine: its two task functions, and its table machine. */
export interface FileResources {
  readonly tables: string;
  readonly summarize: string;
  /** ARN of the file's table machine (see buildTableDefinition). */
  readonly tableMachine: string;
}

/** Step Functions errors of starting a child execution that are worth a retry. */
const START_EXECUTION_ERRORS = ['StepFunctions.ExecutionLimitExceededException', 'StepFunctions.SdkClientException', 'StepFunctions.AWSStepFunctionsException'];

/**
 * The machine of a file that lists tables: Tables lists what the entries resolve to now, then an inline Map runs
 * `max_parallel_tables` tables at once, each as its own execution of the table machine (its own history, named for
 * the table, visible on its own in the console), and Summarize counts the outcomes. A table whose run fails is caught
 * inside the Map, so the others go on; the file's run then ends in a Fail state (TablesFailed) naming the failed tables.
 * The execution carries one small item per table; each table's chunks stay in its own execution.
 */
export function buildFileDefinition(file: { readonly name: string; readonly max_parallel_tables: number }, resources: FileResources): StateMachineDefinition {
  return {
    Comment: `pgferry pipeline ${file.name}: its tables`,
    TimeoutSeconds: EXECUTION_TIMEOUT_SECONDS,
    StartAt: FileStates.tables,
    States: {
      [FileStates.tables]: task(
        resources.tables,
        { pipeline: file.name, 'runId.$': '$$.Execution.Name', 'request.$': '$' },
        { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'TablesNotListed' }], Next: 'RunTables' },
      ),
      RunTables: {
        Type: 'Map',
        ItemsPath: '$.tables',
        ItemSelector: { 'ref.$': '$$.Map.Item.Value.ref', 'name.$': '$$.Map.Item.Value.name', 'request.$': '$.request' },
        MaxConcurrency: file.max_parallel_tables,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: FileStates.runTable,
          States: {
            [FileStates.runTable]: {
              Type: 'Task',
              Resource: 'arn:aws:states:::states:startExecution.sync:2',
              Parameters: {
                StateMachineArn: resources.tableMachine,
                'Name.$': '$.name',
                Input: { 'pipeline.$': '$.ref', 'request.$': '$.request', 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id' },
              },
              ResultSelector: { 'status.$': '$.Output.status' },
              TimeoutSeconds: EXECUTION_TIMEOUT_SECONDS,
              Retry: [
                { ErrorEquals: START_EXECUTION_ERRORS, IntervalSeconds: 5, MaxAttempts: 8, BackoffRate: 2, MaxDelaySeconds: 120, JitterStrategy: 'FULL' },
              ],
              Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'TableFailed' }],
              End: true,
            },
            // Only the error's name: on AWS the Cause is the child's whole DescribeExecution (kilobytes), which 500
            // failed tables would pass the 256 KiB a state may hold with. Summarize reads each run's recorded error.
            TableFailed: {
              Type: 'Pass',
              Comment: "The table's run failed; its own execution and its runs row say why.",
              Parameters: { status: 'failed', 'error.$': '$.error.Error' },
              End: true,
            },
          },
        },
        ResultPath: '$.results',
        Next: FileStates.summarize,
      },
      [FileStates.summarize]: task(
        resources.summarize,
        {
          'pipeline.$': '$.pipeline',
          'runId.$': '$.runId',
          'tables.$': '$.tables',
          'results.$': '$.results',
          'rejected.$': '$.rejected',
          'warnings.$': '$.warnings',
          'missing.$': '$.missing',
        },
        { Next: 'Outcome' },
      ),
      Outcome: { Type: 'Choice', Choices: [{ Variable: '$.status', StringEquals: 'failed', Next: TABLES_FAILED }], Default: 'Done' },
      [TABLES_FAILED]: { Type: 'Fail', Comment: 'At least one table failed; the others loaded.', ErrorPath: '$.failure.Error', CausePath: '$.failure.Cause' },
      TablesNotListed: { Type: 'Fail', Comment: 'The tables could not be listed: nothing ran.', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' },
      Done: { Type: 'Succeed' },
    },
  };
}

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
  const run = { 'pipeline.$': '$.pipeline', 'runId.$': '$.runId' };
  return {
    Comment: `pgferry pipeline ${pipeline.name}`,
    TimeoutSeconds: EXECUTION_TIMEOUT_SECONDS,
    StartAt: TaskStates.plan,
    States: {
      [TaskStates.plan]: task(
        resources.plan,
        { pipeline: pipeline.name, 'runId.$': '$$.Execution.Name', 'request.$': '$' },
        {
          Catch: [{ ErrorEquals: [ErrorNames.leaseHeld], ResultPath: '$.error', Next: 'AlreadyRunning' }, toFailure],
          Next: 'ExtractChunks',
        },
      ),
      ExtractChunks: {
        Type: 'Map',
        ItemsPath: '$.chunks',
        ItemSelector: { 'pipeline.$': '$.pipeline', 'runId.$': '$.runId', 'chunk.$': '$$.Map.Item.Value' },
        MaxConcurrency: pipeline.source.options.max_parallel_chunks,
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
        Parameters: { status: 'skipped', pipeline: pipeline.name, 'runId.$': '$$.Execution.Name', 'error.$': '$.error' },
        End: true,
      },
      [TaskStates.recordFailure]: task(
        resources.recordFailure,
        { pipeline: pipeline.name, 'runId.$': '$$.Execution.Name', 'error.$': '$.error' },
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

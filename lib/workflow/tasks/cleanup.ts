/**
 * Task Cleanup: runs on the EventBridge event of an execution that ended FAILED, TIMED_OUT or ABORTED,
 * which covers what no Catch sees (the execution's timeout, StopExecution, States.DataLimitExceeded, a
 * RecordFailure that failed itself). It records the failure if RecordFailure did not, releases the lease,
 * drops the run's staging tables (stopping stray chunks of the run that still write to them) and marks the
 * run failed, timed out or aborted. Idempotent: after RecordFailure it only finds things already done.
 */
import * as z from 'zod';
import { redact } from '../../connections/index.ts';
import { ConfigError, RETRYABLE_ERRORS } from '../../errors.ts';
import { dropStagingOfDeadRun } from '../../sink/staging.ts';
import { ensureStateSchema, failRun, getRun, releaseLease } from '../../state/store.ts';
import { RunStatus } from '../../state/types.ts';
import { withSessions } from '../sessions.ts';
import type { TaskDeps } from '../types.ts';
import { parseStepError } from './record-failure.ts';

/** How a deployed execution ended, as its status-change event says. */
export const CLEANED_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;
export type CleanedStatus = (typeof CLEANED_STATUSES)[number];

/** The part of EventBridge's "Step Functions Execution Status Change" event that cleanup reads. */
const StatusChangeEvent = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string(),
    stateMachineArn: z.string(),
    name: z.string().min(1),
    status: z.string(),
    error: z.string().nullish(),
    cause: z.string().nullish(),
    /** The execution's input as JSON text: a table machine's holds the table run's reference. */
    input: z.string().nullish(),
  }),
});

/** Suffix of a file's table machine (`<prefix>-<file>-Tables`; pipeline names are lower case, so none ends so). */
export const TABLE_MACHINE_SUFFIX = '-Tables';

/** Input of the cleanup task: which run, how its execution ended, and the execution's error if any. */
export interface CleanupInput {
  readonly pipeline: string;
  readonly runId: string;
  readonly status: CleanedStatus;
  readonly error?: string | undefined;
  readonly cause?: string | undefined;
}

/** What the cleanup did. */
export interface CleanupOutput {
  readonly pipeline: string;
  readonly runId: string;
  /** `runs.status` after the cleanup (`succeeded` stays `succeeded`). */
  readonly status: string;
  /** Whether the run was still recorded as running, so the cleanup recorded its end. */
  readonly recorded: boolean;
  /** Sessions of the run that still held its staging tables and were stopped. */
  readonly stoppedSessions: number;
}

/**
 * The cleanup input of a status-change event, or undefined for an event that is not a run of this
 * deployment: a Distributed Map's child execution (its state machine ARN ends in `/<map run>`; its parent's
 * event cleans up), another deployment's state machine, or a status that needs no cleanup.
 */
export function cleanupInputOf(event: unknown, namePrefix: string): CleanupInput | undefined {
  const parsed = StatusChangeEvent.safeParse(event);
  if (!parsed.success) {
    throw new ConfigError([
      {
        file: 'cleanup event',
        path: parsed.error.issues[0]?.path.join('.') ?? '',
        message: 'expected an EventBridge "Step Functions Execution Status Change" event from aws.states',
      },
    ]);
  }
  const d = parsed.data.detail;
  if (!(CLEANED_STATUSES as readonly string[]).includes(d.status)) return undefined;
  const machine = /:stateMachine:([A-Za-z0-9_-]+)$/.exec(d.stateMachineArn)?.[1];
  if (machine === undefined || !machine.startsWith(`${namePrefix}-`)) return undefined;
  let pipeline = machine.slice(namePrefix.length + 1);
  if (pipeline.endsWith(TABLE_MACHINE_SUFFIX)) {
    // A table's run: its pipeline is the reference its execution input carries.
    const input = (() => {
      try {
        return JSON.parse(d.input ?? '') as { pipeline?: unknown };
      } catch {
        return {};
      }
    })();
    if (typeof input.pipeline !== 'string') return undefined;
    pipeline = input.pipeline;
  }
  return {
    pipeline,
    runId: d.name,
    status: d.status as CleanedStatus,
    ...(d.error ? { error: d.error } : {}),
    ...(d.cause ? { cause: d.cause } : {}),
  };
}

const STATUS_OF: Readonly<Record<CleanedStatus, 'failed' | 'timed_out' | 'aborted'>> = {
  FAILED: RunStatus.failed,
  TIMED_OUT: RunStatus.timedOut,
  ABORTED: RunStatus.aborted,
};

/** The error recorded for a run whose execution ended without RecordFailure. */
function errorOf(input: CleanupInput): { name: string; message: string } {
  if (input.status === 'TIMED_OUT')
    return { name: 'ExecutionTimedOut', message: 'the execution reached its timeout before the run finished; nothing was applied' };
  if (input.status === 'ABORTED') return { name: 'ExecutionAborted', message: 'the execution was stopped before the run finished; nothing was applied' };
  return parseStepError({ Error: input.error ?? 'States.Runtime', Cause: input.cause ?? 'the execution failed outside the states that record a failure' });
}

/** Cleans up after one ended execution. */
export async function cleanupRun(input: CleanupInput, deps: TaskDeps): Promise<CleanupOutput> {
  const config = deps.pipeline(input.pipeline);
  const schema = config.state.schema;
  return withSessions(config, deps, {}, async ({ state, shared }) => {
    await ensureStateSchema(state, schema);
    const before = await getRun(state, schema, input.runId);
    const recorded = before === undefined || before.status === RunStatus.running;
    // Both release the lease if this run holds it; a run already recorded as failed or succeeded keeps its record.
    if (recorded) await failRun(state, schema, config.name, input.runId, errorOf(input), STATUS_OF[input.status]);
    else await releaseLease(state, schema, config.name, input.runId);
    const run = await getRun(state, schema, input.runId);
    let stoppedSessions = 0;
    if (run?.plan) {
      const plan = run.plan;
      const drop = shared
        ? dropStagingOfDeadRun(state, plan)
        : withSessions(config, deps, { target: true }, async ({ target }) => (target ? dropStagingOfDeadRun(target, plan) : 0));
      stoppedSessions = await drop;
    }
    const output = { pipeline: config.name, runId: input.runId, status: run?.status ?? STATUS_OF[input.status], recorded, stoppedSessions };
    deps.log.info(recorded ? "recorded the end of a run that ended outside its state machine's failure path" : 'cleaned up after a failed run', {
      ...output,
      execution: input.status,
      error: redact(input.error ?? ''),
    });
    return output;
  });
}

/** What the cleanup Lambda does with an event: the cleanup, or why the event was not for it. */
export type CleanupEventOutput = CleanupOutput | { readonly ignored: string };

/**
 * Seconds the cleanup waits before trying again after a transient error (a database failing over): about
 * 6.5 minutes in all, within the Lambda's 15. EventBridge invokes it asynchronously, where Lambda itself
 * retries only twice, within minutes.
 */
export const CLEANUP_RETRY_SECONDS = [5, 10, 20, 40, 80, 120, 120] as const;

const RETRIED = new Set<string>(RETRYABLE_ERRORS);

/** The cleanup Lambda's work: an EventBridge event in, the cleanup of its run (or why there is none) out. */
export async function cleanupEvent(
  event: unknown,
  deps: TaskDeps,
  namePrefix: string,
  options: { retrySeconds?: readonly number[] } = {},
): Promise<CleanupEventOutput> {
  const input = cleanupInputOf(event, namePrefix);
  if (!input) return { ignored: 'not the end of a run of this deployment that needs a cleanup' };
  try {
    deps.pipeline(input.pipeline);
  } catch (error) {
    if (error instanceof ConfigError) return { ignored: `no pipeline ${input.pipeline} in this deployment` };
    throw error;
  }
  const waits = options.retrySeconds ?? CLEANUP_RETRY_SECONDS;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await cleanupRun(input, deps);
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      const wait = waits[attempt];
      if (!RETRIED.has(name) || wait === undefined) throw error;
      deps.log.warn('cleanup failed; trying again', { pipeline: input.pipeline, runId: input.runId, error: redact(String(error)), seconds: wait });
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
  }
}

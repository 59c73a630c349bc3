/**
 * The local runner: executes THE state machine definition with aws-local-stepfunctions, every Task
 * resource mapped to the in-process task function its Lambda wraps.
 */
import './polyfills.ts';
import { randomUUID } from 'node:crypto';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import type { PipelineConfig } from '../config/index.ts';
import { openConnection, redact } from '../connections/index.ts';
import { close } from '../db/index.ts';
import { ConfigError, ErrorNames } from '../errors.ts';
import type { TaskLogger } from '../log.ts';
import { getRun, summarize } from '../state/store.ts';
import type { RunSummary } from '../state/types.ts';
import { budgetOf } from '../db/budget.ts';
import { buildDefinition, LAMBDA_TIMEOUT_SECONDS, TaskStates, type TaskKey, type TaskResources } from '../workflow/definition.ts';
import { strategyLabel } from '../workflow/request.ts';
import { TASKS, type TaskFunction } from '../workflow/tasks/index.ts';
import type { ChunkOutput, PlanOutput, TaskDeps } from '../workflow/types.ts';

/** Placeholder resources of the local definition; never called, every Task is overridden. */
export const LOCAL_RESOURCES: TaskResources = {
  plan: 'arn:aws:lambda:local:000000000000:function:pgferry-plan',
  extractChunk: 'arn:aws:lambda:local:000000000000:function:pgferry-extract-chunk',
  apply: 'arn:aws:lambda:local:000000000000:function:pgferry-apply',
  finalize: 'arn:aws:lambda:local:000000000000:function:pgferry-finalize',
  recordFailure: 'arn:aws:lambda:local:000000000000:function:pgferry-record-failure',
};

/** Progress of a local run, reported after the plan and after every chunk. */
export interface RunProgress {
  readonly runId: string;
  readonly chunks: number;
  readonly chunksDone: number;
  readonly rows: number;
  readonly bytes: number;
  readonly elapsedMs: number;
}

/** Options of {@link runLocal}. */
export interface LocalRunOptions {
  /** Ignore the stored cursor for this run. @default false */
  readonly fullRefresh?: boolean;
  /** Run id (the execution name). @default `local-<uuid>` */
  readonly runId?: string;
  /** Called after the plan and after every chunk. */
  readonly onProgress?: (progress: RunProgress) => void;
  /** Task log sink. @default silent */
  readonly log?: TaskLogger;
  /** Opens connections. @default openConnection */
  readonly connect?: TaskDeps['connect'];
  /** Wraps task functions, e.g. to inject faults in tests. @default none */
  readonly wrapTask?: (key: TaskKey, fn: TaskFunction) => TaskFunction;
  /**
   * Milliseconds between two attempts of a task the definition retries. On AWS the backoff outlasts an RDS
   * failover (minutes); a local run has no failover to wait for, so it retries at this fixed pace.
   * @default LOCAL_RETRY_INTERVAL_MS
   */
  readonly retryIntervalMs?: number;
  /** Fault-injection points (tests). @default none */
  readonly hooks?: TaskDeps['hooks'];
  /** Seconds each task may take, as a Lambda invocation may (see lib/db/budget.ts). @default LAMBDA_TIMEOUT_SECONDS (900) */
  readonly taskBudgetSeconds?: number;
  /** Runs this definition instead of the one built from the config (parity tests run the synthesized one). */
  readonly definition?: Record<string, unknown>;
  /** The execution's input. @default the request (`{}` or `{"full_refresh": true}`) */
  readonly executionInput?: Record<string, unknown>;
  /** A table run's reference (see tableRunRef), which the tasks get as their `pipeline`. @default the config's name */
  readonly pipelineRef?: string;
}

/** Pace of a local run's retries: every retried attempt of the definition, one second apart. */
export const LOCAL_RETRY_INTERVAL_MS = 1_000;

const silent: TaskLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Runs a pipeline once through the local state machine and returns its summary (never throws for a failed run). */
export async function runLocal(config: PipelineConfig, options: LocalRunOptions = {}): Promise<RunSummary> {
  const runId = options.runId ?? `local-${randomUUID()}`;
  const connect = options.connect ?? ((ref, o) => openConnection(ref, o));
  const deps: TaskDeps = {
    pipeline: (name) => {
      if (name !== config.name && name !== options.pipelineRef)
        throw new ConfigError(`unknown pipeline ${JSON.stringify(name)}; this run knows ${config.name}`);
      return config;
    },
    connect,
    log: options.log ?? silent,
    ...(options.hooks ? { hooks: options.hooks } : {}),
  };
  const started = Date.now();
  const progress = { chunks: 0, chunksDone: 0, rows: 0, bytes: 0 };
  const report = (): void => options.onProgress?.({ runId, ...progress, elapsedMs: Date.now() - started });
  const handlers: Record<string, (input: never) => Promise<unknown>> = {};
  for (const key of Object.keys(TaskStates) as TaskKey[]) {
    const base = TASKS[key];
    const fn = options.wrapTask ? options.wrapTask(key, base) : base;
    handlers[TaskStates[key]] = async (input: never) => {
      const output = await fn(input, { ...deps, budget: budgetOf(options.taskBudgetSeconds ?? LAMBDA_TIMEOUT_SECONDS) });
      if (key === 'plan') {
        progress.chunks = (output as PlanOutput).chunks.length;
        report();
      } else if (key === 'extractChunk') {
        const chunk = output as ChunkOutput;
        progress.chunksDone += 1;
        progress.rows += chunk.rows;
        progress.bytes += chunk.bytes;
        report();
      }
      return output;
    };
  }
  const definition = options.definition ?? buildDefinition(config, LOCAL_RESOURCES);
  // The definition is ours, validated by the unit tests and by cdk synth; validating it again on every run is
  // measurably slower and takes more memory (see docs/performance.md).
  const machine = new StateMachine(definition as never, { validationOptions: { noValidate: true } });
  const request: Record<string, unknown> = options.executionInput ?? (options.fullRefresh ? { full_refresh: true } : {});
  const retryIntervalMs = options.retryIntervalMs ?? LOCAL_RETRY_INTERVAL_MS;
  const retryIntervalOverrides = Object.fromEntries(Object.values(TaskStates).map((name) => [name, retryIntervalMs]));
  const execution = machine.run(request as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
    context: {
      Execution: {
        Id: `arn:aws:states:local:000000000000:execution:pgferry-${config.name}:${runId}`,
        Name: runId,
        Input: request as never,
        StartTime: new Date(started).toISOString(),
      },
      StateMachine: { Id: `arn:aws:states:local:000000000000:stateMachine:pgferry-${config.name}`, Name: `pgferry-${config.name}` },
    },
  });
  try {
    const output = (await execution.result) as Record<string, unknown>;
    if (output.status === 'skipped') return skippedSummary(config, runId, output.error, started);
    return output as unknown as RunSummary;
  } catch (error) {
    return failedSummary(config, runId, error, connect, started);
  }
}

/** The summary of a run that loaded nothing (skipped, or failed before the state database knew of it, or before it began). */
export function emptySummary(
  config: PipelineConfig,
  runId: string,
  status: 'skipped' | 'failed',
  started: number,
  error: { name: string; message: string },
): RunSummary {
  return {
    pipeline: config.name,
    runId,
    status,
    ...strategyLabel(config),
    rowsExtracted: 0,
    rowsInserted: 0,
    rowsDeleted: 0,
    chunks: 0,
    bytes: 0,
    cursorBefore: null,
    cursorAfter: null,
    durationMs: Date.now() - started,
    error,
  };
}

function skippedSummary(config: PipelineConfig, runId: string, error: unknown, started: number): RunSummary {
  const e = (error ?? {}) as { Error?: string; Cause?: string };
  return emptySummary(config, runId, 'skipped', started, { name: e.Error ?? ErrorNames.leaseHeld, message: redact(e.Cause ?? 'another run holds the lease') });
}

/** The failed run as RecordFailure wrote it; built from the execution's error when the state database is out of reach. */
async function failedSummary(config: PipelineConfig, runId: string, error: unknown, connect: TaskDeps['connect'], started: number): Promise<RunSummary> {
  const cause = error instanceof ExecutionError ? (error.cause as Error | undefined) : (error as Error);
  const stepError = { name: cause?.name ?? 'Error', message: redact(cause?.message ?? String(error)) };
  const db = await connect(config.state, {}).catch(() => undefined);
  try {
    const run = db ? await getRun(db, config.state.schema, runId).catch(() => undefined) : undefined;
    if (run) return { ...summarize(run), status: 'failed', error: run.error ?? stepError };
  } finally {
    await close(db);
  }
  return emptySummary(config, runId, 'failed', started, stepError);
}

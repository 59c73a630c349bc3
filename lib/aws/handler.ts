/**
 * The middy wrapper every task Lambda is: Powertools Tracer, Logger and Metrics around the task
 * function the local runner calls in-process. Errors leave exactly as the task threw them: the Node.js
 * runtime reports `error.name` as the error type, and the state machine's Retry/Catch match on it.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { redact } from '../connections/index.ts';
import { ErrorNames, RETRYABLE_ERRORS } from '../errors.ts';
import { pipelineKeyOf } from '../config/index.ts';
import { budgetOf } from '../db/budget.ts';
import type { FileFunctionKey, FunctionKey } from '../workflow/definition.ts';
import type { TaskDeps } from '../workflow/types.ts';
import { Metrics } from './constants.ts';
import { lambdaDeps } from './deps.ts';
import { sharedPowertools, taskLogger, type Powertools } from './powertools.ts';
import { TASK_METRICS } from './task-metrics.ts';

/** What every task input carries. */
interface TaskEvent {
  readonly pipeline?: string;
  readonly runId?: string;
}

/** Options of {@link taskHandler}; tests pass their own. */
export interface TaskHandlerOptions {
  /** @default the container's shared instances */
  readonly powertools?: Powertools;
  /** Builds the task's dependencies once per container. @default {@link lambdaDeps} */
  readonly deps?: (powertools: Powertools) => TaskDeps;
  /** The pipeline and run an event is about, for its logs and metrics. @default the event's own `pipeline` and `runId` */
  readonly keys?: (event: unknown) => { readonly pipeline?: string | undefined; readonly runId?: string | undefined };
}

const RETRIED = new Set<string>(RETRYABLE_ERRORS);

/** The Lambda handler of one task: `fn` wrapped in middy with Powertools' Tracer, Logger and Metrics. */
export function taskHandler<I extends TaskEvent, O>(
  task: FunctionKey | FileFunctionKey,
  fn: (input: I, deps: TaskDeps) => Promise<O>,
  options: TaskHandlerOptions = {},
) {
  const tools = options.powertools ?? sharedPowertools();
  const { logger, metrics, tracer } = tools;
  const buildDeps = options.deps ?? ((p: Powertools) => lambdaDeps(taskLogger(p.logger)));
  let deps: TaskDeps | undefined;

  const run = async (event: I, context: Context): Promise<O> => {
    const keys = options.keys ? options.keys(event) : { pipeline: event?.pipeline, runId: event?.runId };
    // A table run's tasks get its reference: logs and metrics name its state key (`sales/sales.orders`).
    const pipeline = typeof keys.pipeline === 'string' ? pipelineKeyOf(keys.pipeline) : undefined;
    logger.appendKeys({ task, pipeline, runId: keys.runId });
    if (pipeline !== undefined) {
      metrics.addDimension(Metrics.dimension, pipeline);
      tracer.putAnnotation('pipeline', pipeline);
    }
    const started = Date.now();
    try {
      // Built on the first invocation, not at import, so a broken bundle fails as a ConfigError the state machine records.
      deps ??= buildDeps(tools);
      // The invocation's remaining time is the task's budget: its statements end before the Lambda does.
      const remainingMs = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
      const output = await fn(event, remainingMs !== undefined && remainingMs > 0 ? { ...deps, budget: budgetOf(remainingMs / 1000) } : deps);
      TASK_METRICS[task](metrics, output, Date.now() - started);
      return output;
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      const fields = { error: { name, message: redact(error instanceof Error ? error.message : String(error)) } };
      if (name === ErrorNames.leaseHeld) {
        metrics.addMetric(Metrics.names.runsSkipped, MetricUnit.Count, 1);
        logger.info('another run holds the lease; this run is skipped', fields);
      } else {
        metrics.addMetric(Metrics.names.taskErrors, MetricUnit.Count, 1);
        if (RETRIED.has(name)) logger.warn('task failed; the state machine retries it', fields);
        else logger.error('task failed', fields);
      }
      throw error;
    }
  };

  return middy(run)
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
}

/**
 * The Powertools Logger, Metrics and Tracer of a task Lambda (one of each per container), and the
 * adapter that lets the task functions log through Powertools' structured logger.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { redact } from '../connections/index.ts';
import type { TaskLogger } from '../log.ts';
import { Metrics } from './constants.ts';

/** The three Powertools utilities a task handler uses. */
export interface Powertools {
  readonly logger: Logger;
  readonly metrics: PowertoolsMetrics;
  readonly tracer: Tracer;
}

/**
 * New Powertools instances in namespace `pgferry`, their service (the metrics' `service` dimension) the
 * deployment's namePrefix from `POWERTOOLS_SERVICE_NAME` (default `pgferry`); log level from `POWERTOOLS_LOG_LEVEL`.
 */
export function createPowertools(env: NodeJS.ProcessEnv = process.env): Powertools {
  const serviceName = env.POWERTOOLS_SERVICE_NAME || Metrics.service;
  return {
    logger: new Logger({ serviceName }),
    metrics: new PowertoolsMetrics({ namespace: Metrics.namespace, serviceName }),
    // Connections to PostgreSQL are not AWS SDK calls; the handler's segment times each task.
    tracer: new Tracer({ serviceName }),
  };
}

let shared: Powertools | undefined;

/** The container's Powertools instances, created on first use. */
export function sharedPowertools(): Powertools {
  shared ??= createPowertools();
  return shared;
}

/** Masks registered secrets and URL passwords in every string of a log record's fields. */
export function redactFields(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (value instanceof Error) return { name: value.name, message: redact(value.message) };
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => redactFields(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactFields(v, depth + 1)]));
}

/** The task functions' logger, writing through Powertools (JSON lines with the Lambda context keys). */
export function taskLogger(logger: Logger): TaskLogger {
  const fields = (f: Record<string, unknown> | undefined): Record<string, unknown> => (f ? (redactFields(f) as Record<string, unknown>) : {});
  return {
    info: (message, f) => logger.info(redact(message), fields(f)),
    warn: (message, f) => logger.warn(redact(message), fields(f)),
    error: (message, f) => logger.error(redact(message), fields(f)),
  };
}

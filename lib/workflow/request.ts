/** The execution input a run accepts: `{}` or `{"full_refresh": true}`; anything else is refused. */
import * as z from 'zod';
import type { PipelineConfig } from '../config/index.ts';
import { ConfigError } from '../errors.ts';
import { strategyFor } from '../sink/strategies/index.ts';

const RunRequestSchema = z.strictObject({
  /** Ignore the stored cursor for this one run. @default false */
  full_refresh: z.boolean().optional(),
});

/** A validated execution input. */
export interface RunRequest {
  readonly fullRefresh: boolean;
}

/** Validates an execution input; ConfigError naming what is allowed. */
export function parseRunRequest(input: unknown): RunRequest {
  const data = checked(RunRequestSchema, input, 'not allowed; the input must be {} or {"full_refresh": true}');
  return { fullRefresh: data.full_refresh ?? false };
}

/** The input parsed by `schema`, or ConfigError naming the keys it refused and what is allowed. */
function checked<T>(schema: z.ZodType<T>, input: unknown, allowed: string): T {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const keys = parsed.error.issues.map((i) => (i.code === 'unrecognized_keys' ? i.keys.join(', ') : i.path.join('.'))).join(', ');
  throw new ConfigError([{ file: 'execution input', path: keys, message: allowed }]);
}

/** `mode` and `strategy` as the run summary names them. */
export function strategyLabel(config: PipelineConfig): { mode: string; strategy: string } {
  return { ...strategyFor(config).label(config) };
}

const FileRunRequestSchema = z.strictObject({
  full_refresh: z.boolean().optional(),
  /** Only these tables (`schema.name`). */
  tables: z.array(z.string().min(1)).min(1).optional(),
});

/** A validated execution input of a file that lists tables. */
export interface FileRunRequest {
  readonly fullRefresh: boolean;
  readonly tables?: readonly string[];
}

/** Validates a file machine's execution input: `{}`, `{"full_refresh": true}`, `{"tables": ["sales.orders"]}` or both. */
export function parseFileRunRequest(input: unknown): FileRunRequest {
  const data = checked(FileRunRequestSchema, input, 'not allowed; the input must be {} or hold full_refresh (true/false) and tables (a list of schema.name)');
  return { fullRefresh: data.full_refresh ?? false, ...(data.tables ? { tables: data.tables } : {}) };
}

/**
 * Where the time of one run goes: runs a pipeline file through the same local runner as `pgferry run`,
 * timing every task (wrapTask) and every statement, COPY and connection (an instrumented connect). Prints
 * one JSON line. Run as its own process: `node --import tsx bench/profile.ts <file>`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { loadPipelineFile } from '../lib/config/index.ts';
import { openConnection } from '../lib/connections/index.ts';
import { runLocal } from '../lib/local/runner.ts';
import type { TaskKey } from '../lib/workflow/definition.ts';

/** One timed task call. */
export interface TaskTiming {
  readonly task: string;
  readonly chunk?: number;
  readonly startMs: number;
  readonly ms: number;
}

/** One timed statement (or connect), tagged with the task that ran it. */
export interface StatementTiming {
  readonly task: string;
  readonly chunk?: number;
  readonly sql: string;
  readonly kind: 'connect' | 'copy-out' | 'copy-in' | 'query';
  readonly startMs: number;
  readonly ms: number;
}

/** What the profile prints. */
export interface Profile {
  readonly status: string;
  /** The run's durationMs as recorded in the state database (from the run record to completion). */
  readonly durationMs: number;
  /** runLocal, start to end. */
  readonly wallMs: number;
  /** Process start to runLocal (node, tsx, module loading, reading the file). */
  readonly loadMs: number;
  readonly tasks: TaskTiming[];
  readonly statements: StatementTiming[];
}

const context = new AsyncLocalStorage<{ task: string; chunk?: number }>();
// performance.now() counts from the process's start, so t0 is the time node, tsx and the imports took.
const t0 = performance.now();
const tasks: TaskTiming[] = [];
const statements: StatementTiming[] = [];

function kindOf(sql: string): StatementTiming['kind'] {
  if (sql === '(connect)') return 'connect';
  if (/^\s*COPY\b/i.test(sql)) return /\bTO\s+STDOUT\b/i.test(sql) ? 'copy-out' : 'copy-in';
  return 'query';
}

function record(sql: string, started: number): void {
  const where = context.getStore() ?? { task: 'runner' };
  statements.push({ ...where, sql: sql.replace(/\s+/g, ' ').slice(0, 240), kind: kindOf(sql), startMs: started - t0, ms: performance.now() - started });
}

/** Wraps `client.query` so every promise query and every COPY stream is timed. */
function instrument(client: pg.Client): pg.Client {
  const original = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0] as string | { text?: string; on?: unknown } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '?');
    const started = performance.now();
    const result = original(...args) as { then?: unknown; on?: (event: string, fn: () => void) => void } | undefined;
    if (result && typeof result.then === 'function') {
      (result as Promise<unknown>).then(
        () => record(text, started),
        () => record(`(failed) ${text}`, started),
      );
    } else if (result && typeof result.on === 'function') {
      let done = false;
      const finish = (): void => {
        if (!done) record(text, started);
        done = true;
      };
      result.on('end', finish);
      result.on('finish', finish);
    }
    return result;
  };
  return client;
}

const [file] = process.argv.slice(2);
if (!file) throw new Error('usage: node --import tsx bench/profile.ts <pipeline file>');
const config = await loadPipelineFile(file);
const runStarted = performance.now();
const summary = await runLocal(config, {
  wrapTask: (key: TaskKey, fn) =>
    (async (input: never, deps) => {
      const chunk = (input as { chunk?: number }).chunk;
      const started = performance.now();
      try {
        return await context.run({ task: key, ...(chunk === undefined ? {} : { chunk }) }, () => fn(input, deps));
      } finally {
        tasks.push({ task: key, ...(chunk === undefined ? {} : { chunk }), startMs: started - t0, ms: performance.now() - started });
      }
    }) as typeof fn,
  connect: async (ref, options) => {
    const started = performance.now();
    const client = await openConnection(ref, options);
    record('(connect)', started);
    return instrument(client);
  },
});
const profile: Profile = {
  status: summary.status,
  durationMs: summary.durationMs,
  wallMs: performance.now() - runStarted,
  loadMs: runStarted,
  tasks,
  statements,
};
process.stdout.write(`${JSON.stringify(profile)}\n`);
process.exitCode = summary.status === 'succeeded' ? 0 : 1;

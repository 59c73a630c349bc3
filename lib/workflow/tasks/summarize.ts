/** Task Summarize of a file's machine: the outcome of every table's run, and the file run's status. */
import { close } from '../../db/index.ts';
import { redact } from '../../connections/index.ts';
import { runErrors } from '../../state/store.ts';
import { TABLES_FAILED } from '../definition.ts';
import { connectFor } from '../sessions.ts';
import type { TaskDeps } from '../types.ts';
import type { TableItem, TablesOutput } from './tables.ts';

/** Input of Summarize: the Tables output with each table run's result, in the same order. */
export interface SummarizeInput extends Pick<TablesOutput, 'pipeline' | 'runId' | 'rejected' | 'warnings' | 'missing'> {
  readonly tables: readonly TableItem[];
  /** `error`: the name of what ended the table's run (on AWS `States.TaskFailed`: its own error is in its runs row). */
  readonly results: readonly { readonly status?: string; readonly error?: string }[];
}

/** At most this many failed tables are named in the outcome (the execution's output stays small). */
const NAMED_FAILURES = 100;

/** Output of Summarize. */
export interface FileOutcome {
  readonly pipeline: string;
  readonly runId: string;
  readonly status: 'succeeded' | 'failed' | 'skipped';
  readonly totals: { readonly tables: number; readonly succeeded: number; readonly failed: number; readonly skipped: number };
  /** The failed tables (the first 100), with their run's execution name when they ran. */
  readonly failed: readonly { readonly table: string; readonly name?: string; readonly error: string }[];
  readonly warnings: readonly string[];
  readonly missing: readonly string[];
  /** What the Fail state shows when a table failed. */
  readonly failure?: { readonly Error: string; readonly Cause: string };
}

/**
 * Counts the tables' outcomes; any failed table fails the file's run (the others' results stand). With `deps`, the
 * failed runs' own errors are read from the state's `runs` (one query) to name them.
 */
export async function summarizeTables(input: SummarizeInput, deps?: TaskDeps): Promise<FileOutcome> {
  const failedNames = input.tables.filter((_, n) => input.results[n]?.status !== 'succeeded' && input.results[n]?.status !== 'skipped').map((t) => t.name);
  const recorded =
    failedNames.length > 0 && deps?.file ? await recordedErrors(input.pipeline, failedNames, deps) : new Map<string, { name: string; message: string }>();
  const failed: { table: string; name?: string; error: string }[] = input.rejected.map((r) => ({
    table: r.table,
    error: `${r.error.name}: ${r.error.message}`,
  }));
  let succeeded = 0;
  let skipped = 0;
  input.tables.forEach((t, n) => {
    const result = input.results[n];
    if (result?.status === 'succeeded') succeeded += 1;
    else if (result?.status === 'skipped') skipped += 1;
    else {
      const own = recorded.get(t.name);
      failed.push({ table: t.table, name: t.name, error: own ? redact(`${own.name}: ${own.message}`).slice(0, 300) : (result?.error ?? 'failed') });
    }
  });
  const tables = input.tables.length + input.rejected.length;
  const status = failed.length > 0 ? 'failed' : tables > 0 && skipped === tables ? 'skipped' : 'succeeded';
  const named = failed.slice(0, NAMED_FAILURES);
  return {
    pipeline: input.pipeline,
    runId: input.runId,
    status,
    totals: { tables, succeeded, failed: failed.length, skipped },
    failed: named,
    warnings: input.warnings,
    missing: input.missing,
    ...(failed.length > 0
      ? {
          failure: {
            Error: TABLES_FAILED,
            Cause:
              `${failed.length} of ${tables} table(s) failed: ${named.map((f) => `${f.table} (${f.error})`).join(', ')}${failed.length > named.length ? ', ...' : ''}`.slice(
                0,
                32_000,
              ),
          },
        }
      : {}),
  };
}

/** The recorded errors of the failed table runs, by execution name (= run id); none when the state cannot be read. */
async function recordedErrors(pipeline: string, names: readonly string[], deps: TaskDeps): Promise<Map<string, { name: string; message: string }>> {
  const file = deps.file?.(pipeline);
  if (!file) return new Map();
  const state = await connectFor(deps, file.state, {}).catch(() => undefined);
  try {
    return state ? await runErrors(state, file.state.schema, names.slice(0, NAMED_FAILURES)) : new Map();
  } catch {
    return new Map();
  } finally {
    await close(state);
  }
}

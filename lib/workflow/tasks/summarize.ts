/** Task Summarize of a file's machine: the outcome of every table's run, and the file run's status. */
import type { StepError } from '../types.ts';
import { TABLES_FAILED } from '../definition.ts';
import type { TableItem, TablesOutput } from './tables.ts';

/** Input of Summarize: the Tables output with each table run's result, in the same order. */
export interface SummarizeInput extends Pick<TablesOutput, 'pipeline' | 'runId' | 'rejected' | 'warnings' | 'missing'> {
  readonly tables: readonly TableItem[];
  readonly results: readonly { readonly status?: string; readonly error?: StepError }[];
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

/** Counts the tables' outcomes; any failed table fails the file's run (the others' results stand). */
export async function summarizeTables(input: SummarizeInput): Promise<FileOutcome> {
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
    else failed.push({ table: t.table, name: t.name, error: result?.error?.Error ?? 'failed' });
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

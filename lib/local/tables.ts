/**
 * A local run of a file that lists tables: its entries resolved against the source catalog (one query), then
 * every table run as its own pipeline (its own cursor, lease, runs row, staging and apply transaction) through
 * the local state machine, `max_parallel_tables` at a time. One table's failure or held lease never stops the others.
 */
import './polyfills.ts';
import { randomUUID } from 'node:crypto';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { configForRef, parseTableName, tableKey, type PipelineConfig, type TablesFile } from '../config/index.ts';
import { openConnection, redact } from '../connections/index.ts';
import { ConfigError, InternalError, TableRunFailedError } from '../errors.ts';
import type { TaskLogger } from '../log.ts';
import type { RunSummary } from '../state/types.ts';
import { budgetOf } from '../db/budget.ts';
import { buildFileDefinition, buildTableDefinition, FileStates, LAMBDA_TIMEOUT_SECONDS, type FileResources } from '../workflow/definition.ts';
import { summarizeTables, type SummarizeInput } from '../workflow/tasks/summarize.ts';
import { listTables, type TableItem, type TablesInput, type TablesOutput } from '../workflow/tasks/tables.ts';
import type { TaskDeps } from '../workflow/types.ts';
import { emptySummary, LOCAL_RESOURCES, runLocal, type LocalRunOptions } from './runner.ts';

/** One table's part of a file's run: the single-table summary with the source and target named. */
export type TableRunSummary = RunSummary & {
  /** The source table, `schema.name` (a part in double quotes where it needs them). */
  readonly table: string;
  /** The target table, written the same way. */
  readonly target: string;
};

/** The summary of a run of a file that lists tables. */
export interface FileRunSummary {
  readonly pipeline: string;
  readonly runId: string;
  /** `failed` when any table failed, `skipped` when every table was skipped, else `succeeded`. */
  readonly status: 'succeeded' | 'failed' | 'skipped';
  /** Every table of the run, in name order. */
  readonly tables: readonly TableRunSummary[];
  readonly totals: {
    readonly tables: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly skipped: number;
    readonly rowsExtracted: number;
    readonly rowsInserted: number;
    readonly rowsDeleted: number;
    readonly chunks: number;
    readonly bytes: number;
  };
  /** Tables with state from earlier runs that no entry resolves to now (dropped at the source, say): their state is kept. */
  readonly missing: readonly string[];
  /** A pattern that matched nothing, and the like. */
  readonly warnings: readonly string[];
  readonly durationMs: number;
}

/** Options of {@link runLocalFile}: those of a single-table run, and which tables. */
export interface FileRunOptions extends Omit<LocalRunOptions, 'runId' | 'onProgress' | 'definition'> {
  /** Only these tables (`schema.name` as `plan` lists them). @default every table the entries resolve to */
  readonly tables?: readonly string[];
  /** Run id of the file's run; each table's run id is derived from it. @default `local-<uuid>` */
  readonly runId?: string;
  /** Called with a table's progress. */
  readonly onProgress?: (table: string, progress: Parameters<NonNullable<LocalRunOptions['onProgress']>>[0]) => void;
  /** Called as each table's run ends. */
  readonly onTable?: (summary: TableRunSummary) => void;
  /** Runs this file definition instead of the one built from the file (parity tests run the synthesized one). */
  readonly fileDefinition?: Record<string, unknown>;
  /** Runs this table definition for each table (parity tests run the synthesized one). */
  readonly tableDefinition?: Record<string, unknown>;
}

/** Placeholder resources of a file's local machine; never called, its Task states are overridden. */
const LOCAL_FILE_RESOURCES: FileResources = {
  tables: 'arn:aws:lambda:local:000000000000:function:pgferry-tables',
  summarize: 'arn:aws:lambda:local:000000000000:function:pgferry-summarize',
  tableMachine: 'arn:aws:states:local:000000000000:stateMachine:pgferry-tables',
};

/**
 * Runs every table of a file once through the file's machine, as on AWS: Tables, then each table's run through its
 * table machine (here in-process), Summarize. Never throws for a table's failure; throws what Tables failed with
 * (an unknown --table: ConfigError) since then nothing ran.
 */
export async function runLocalFile(file: TablesFile, options: FileRunOptions = {}): Promise<FileRunSummary> {
  const started = Date.now();
  const runId = options.runId ?? `local-${randomUUID()}`;
  const connect: TaskDeps['connect'] = options.connect ?? ((ref, o) => openConnection(ref, o));
  const log = options.log ?? silent;
  const deps: TaskDeps = {
    pipeline: (ref) => configForRef(file, ref),
    file: (name) => {
      if (name !== file.name) throw new ConfigError(`unknown pipeline ${JSON.stringify(name)}; this run knows ${file.name}`);
      return file;
    },
    connect,
    log,
  };
  let listed: TablesOutput | undefined;
  let tablesError: unknown;
  const items = new Map<string, TableItem>();
  const summaries = new Map<string, TableRunSummary>();
  const { tables: _tables, onTable, onProgress, runId: _runId, fileDefinition: _file, tableDefinition: _table, ...single } = options;
  const tableDefinition = options.tableDefinition ?? buildTableDefinition(file.name, LOCAL_RESOURCES);
  const handlers: Record<string, (input: never) => Promise<unknown>> = {
    [FileStates.tables]: async (input: TablesInput) => {
      listed = await listTables(input, { ...deps, budget: budgetOf(options.taskBudgetSeconds ?? LAMBDA_TIMEOUT_SECONDS) }).catch((error: unknown) => {
        tablesError = error;
        throw error;
      });
      for (const item of listed.tables) items.set(item.name, item);
      return listed;
    },
    [FileStates.runTable]: async (input: { Name: string; Input: { pipeline: string; request: Record<string, unknown> } }) => {
      const item = items.get(input.Name);
      if (!item) throw new InternalError(`RunTable started ${input.Name}, which Tables did not list`);
      const config = configForRef(file, input.Input.pipeline);
      const summary = await runLocal(config, {
        ...single,
        runId: input.Name,
        pipelineRef: input.Input.pipeline,
        definition: tableDefinition,
        executionInput: input.Input,
        ...(onProgress ? { onProgress: (p) => onProgress(item.table, p) } : {}),
      });
      const table: TableRunSummary = { table: item.table, target: item.target, ...summary };
      summaries.set(input.Name, table);
      onTable?.(table);
      // A failed table run fails its execution, which the file's machine catches inside its Map.
      if (summary.status === 'failed') throw new TableRunFailedError(item.table, summary.error ?? { name: 'Error', message: 'the table run failed' });
      return { Output: summary };
    },
    [FileStates.summarize]: async (input: SummarizeInput) => summarizeTables(input, deps),
  };
  const definition = options.fileDefinition ?? buildFileDefinition(file, LOCAL_FILE_RESOURCES);
  const machine = new StateMachine(definition as never, { validationOptions: { noValidate: true } });
  const request = {
    ...(options.fullRefresh ? { full_refresh: true } : {}),
    ...(options.tables && options.tables.length > 0 ? { tables: [...options.tables] } : {}),
  };
  const execution = machine.run(request as never, {
    overrides: { taskResourceLocalHandlers: handlers as never },
    context: {
      Execution: {
        Id: `arn:aws:states:local:000000000000:execution:pgferry-${file.name}:${runId}`,
        Name: runId,
        Input: request,
        StartTime: new Date(started).toISOString(),
      },
      StateMachine: { Id: `arn:aws:states:local:000000000000:stateMachine:pgferry-${file.name}`, Name: `pgferry-${file.name}` },
    },
  });
  try {
    await execution.result;
  } catch (error) {
    // TablesFailed is a table's failure, already in its summary; anything before the Map ran means nothing ran.
    if (!listed) throw tablesError ?? (error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error);
  }
  const done = listed as TablesOutput | undefined;
  if (!done) throw new InternalError('the file run ended without listing its tables');
  const ran = done.tables.map(
    (t) => summaries.get(t.name) ?? notRun(t, configForRef(file, t.ref), t.name, { name: 'Error', message: 'the table run did not report' }),
  );
  const rejected = done.rejected.map((r) => {
    const entry = file.entries.find((e) => e.index === r.entry);
    if (!entry) throw new InternalError(`Tables rejected ${r.table} of entry ${r.entry}, which the file does not have`);
    const ref = parseTableName(r.table);
    const key = 'problem' in ref ? `${file.name}/${r.table}` : tableKey(file.name, ref);
    const summary = notRun(r, { ...entry.template, name: key }, `${runId}-rejected`, r.error);
    onTable?.(summary);
    return summary;
  });
  const all = [...ran, ...rejected].sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
  return fileSummary(file, runId, all, done.missing, done.warnings, started);
}

/** The summary of a table that did not run (refused by Tables, or a run that did not report). */
function notRun(t: { table: string; target: string }, config: PipelineConfig, runId: string, error: { name: string; message: string }): TableRunSummary {
  return { table: t.table, target: t.target, ...emptySummary(config, runId, 'failed', Date.now(), { name: error.name, message: redact(error.message) }) };
}

const silent: TaskLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function fileSummary(
  file: TablesFile,
  runId: string,
  tables: readonly TableRunSummary[],
  missing: readonly string[],
  warnings: readonly string[],
  started: number,
): FileRunSummary {
  const sum = (f: (s: TableRunSummary) => number): number => tables.reduce((a, s) => a + f(s), 0);
  const counted = (status: RunSummary['status']): number => tables.filter((s) => s.status === status).length;
  const failed = counted('failed');
  const skipped = counted('skipped');
  return {
    pipeline: file.name,
    runId,
    status: failed > 0 ? 'failed' : tables.length > 0 && skipped === tables.length ? 'skipped' : 'succeeded',
    tables,
    totals: {
      tables: tables.length,
      succeeded: counted('succeeded'),
      failed,
      skipped,
      rowsExtracted: sum((s) => s.rowsExtracted),
      rowsInserted: sum((s) => s.rowsInserted),
      rowsDeleted: sum((s) => s.rowsDeleted),
      chunks: sum((s) => s.chunks),
      bytes: sum((s) => s.bytes),
    },
    missing,
    warnings,
    durationMs: Date.now() - started,
  };
}

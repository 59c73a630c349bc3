/**
 * A local run of a file that lists tables: its entries resolved against the source catalog (one query), then
 * every table run as its own pipeline (its own cursor, lease, runs row, staging and apply transaction) through
 * the local state machine, `max_parallel_tables` at a time. One table's failure or held lease never stops the others.
 */
import { randomUUID } from 'node:crypto';
import { formatTableName, tableConfig, tableKey, type PipelineConfig, type TableRef, type TablesFile } from '../config/index.ts';
import { openConnection, redact } from '../connections/index.ts';
import { close, type Db } from '../db/index.ts';
import { ConfigError, InternalError } from '../errors.ts';
import { listSourceTables, resolveTables } from '../source/tables.ts';
import { listTableKeys } from '../state/store.ts';
import type { RunSummary } from '../state/types.ts';
import { strategyLabel } from '../workflow/request.ts';
import type { TaskDeps } from '../workflow/types.ts';
import { runLocal, type LocalRunOptions } from './runner.ts';

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
}

/** A resolved table of a file, ready to run, or the reason it cannot. */
export interface PlannedTable {
  readonly table: string;
  readonly ref: TableRef;
  readonly target: string;
  readonly entry: number;
  readonly config?: PipelineConfig;
  readonly error?: ConfigError;
}

/** What a file's entries resolve to on the source now. */
export interface FileResolution {
  readonly tables: readonly PlannedTable[];
  readonly warnings: readonly string[];
}

/** Resolves a file's entries against the source catalog (one query), keeping `only` when given. */
export async function resolveFile(source: Db, file: TablesFile, only?: readonly string[]): Promise<FileResolution> {
  const rows = await listSourceTables(
    source,
    file.entries.map((e) => e.match),
  );
  const resolved = resolveTables(file.entries, rows);
  const tables = resolved.tables.map((t): PlannedTable => {
    const entry = file.entries.find((e) => e.index === t.entry);
    const table = formatTableName(t.ref);
    if (!entry) throw new InternalError(`a table resolved to entry ${t.entry}, which the file does not have`);
    const target = formatTableName({ schema: entry.target.schema ?? t.ref.schema, name: entry.target.name ?? t.ref.name });
    try {
      return { table, ref: t.ref, target, entry: t.entry, config: tableConfig(file, entry, t.ref, t.source?.primaryKey) };
    } catch (error) {
      if (error instanceof ConfigError) return { table, ref: t.ref, target, entry: t.entry, error };
      throw error;
    }
  });
  refuseSharedTargets(tables, file.file);
  if (only === undefined || only.length === 0) return { tables, warnings: resolved.warnings };
  const names = new Set(tables.map((t) => t.table));
  const unknown = only.filter((name) => !names.has(name));
  if (unknown.length > 0) {
    const known = tables.map((t) => t.table);
    throw new ConfigError([
      {
        file: file.file,
        path: '--table',
        message: `${unknown.map((n) => JSON.stringify(n)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a table of this file now; it resolves to ${known.length === 0 ? 'no table' : known.slice(0, 20).join(', ') + (known.length > 20 ? ` and ${known.length - 20} more` : '')}`,
      },
    ]);
  }
  const wanted = new Set(only);
  return { tables: tables.filter((t) => wanted.has(t.table)), warnings: resolved.warnings };
}

/** Two source tables into one target would overwrite each other: the later one fails. */
function refuseSharedTargets(tables: PlannedTable[], path: string): void {
  const first = new Map<string, string>();
  tables.forEach((t, n) => {
    if (t.error) return;
    const other = first.get(t.target);
    if (other === undefined) {
      first.set(t.target, t.table);
      return;
    }
    tables[n] = {
      ...t,
      error: new ConfigError([
        {
          file: path,
          path: `tables[${t.entry}].target`,
          message: `${t.table} would load ${t.target}, which ${other} loads already; give one of them another target`,
        },
      ]),
    };
  });
}

/** Runs every table of a file once; never throws for a table's failure. */
export async function runLocalFile(file: TablesFile, options: FileRunOptions = {}): Promise<FileRunSummary> {
  const started = Date.now();
  const runId = options.runId ?? `local-${randomUUID()}`;
  const connect: TaskDeps['connect'] = options.connect ?? ((ref, o) => openConnection(ref, o));
  let resolution: FileResolution;
  let missing: string[] = [];
  const source = await connect(file.source, { readOnly: true });
  try {
    resolution = await resolveFile(source, file, options.tables);
  } finally {
    await close(source);
  }
  const state = await connect(file.state, {}).catch(() => undefined);
  try {
    if (state) {
      const now = new Set(resolution.tables.map((t) => tableKey(file.name, t.ref)));
      missing = (await listTableKeys(state, file.state.schema, file.name).catch(() => [])).filter((k) => !now.has(k)).map((k) => k.slice(file.name.length + 1));
      if (options.tables && options.tables.length > 0) missing = [];
    }
  } finally {
    await close(state);
  }

  const summaries: TableRunSummary[] = new Array<TableRunSummary>(resolution.tables.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < resolution.tables.length) {
      const n = next++;
      const t = resolution.tables[n];
      if (!t) continue;
      const summary = await runTable(file.name, t, n, runId, options);
      summaries[n] = summary;
      options.onTable?.(summary);
    }
  };
  await Promise.all(Array.from({ length: Math.min(file.max_parallel_tables, Math.max(resolution.tables.length, 1)) }, worker));
  return fileSummary(file, runId, summaries, missing, resolution.warnings, started);
}

async function runTable(file: string, t: PlannedTable, n: number, runId: string, options: FileRunOptions): Promise<TableRunSummary> {
  const tableRunId = `${runId}-t${n}`;
  if (!t.config) {
    const error = t.error ?? new ConfigError('the table has no configuration');
    return {
      table: t.table,
      target: t.target,
      pipeline: tableKey(file, t.ref),
      runId: tableRunId,
      status: 'failed',
      mode: null,
      strategy: null,
      rowsExtracted: 0,
      rowsInserted: 0,
      rowsDeleted: 0,
      chunks: 0,
      bytes: 0,
      cursorBefore: null,
      cursorAfter: null,
      durationMs: 0,
      error: { name: error.name, message: redact(error.message) },
    };
  }
  const config = t.config;
  const { tables: _tables, onTable: _onTable, onProgress, ...single } = options;
  const summary = await runLocal(config, {
    ...single,
    runId: tableRunId,
    ...(onProgress ? { onProgress: (p) => onProgress(t.table, p) } : {}),
  });
  return { table: t.table, target: t.target, ...strategyLabel(config), ...summary };
}

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

/**
 * Task Tables of a file's machine: which tables its entries resolve to on the source now (one catalog query), and,
 * for each, the reference its table machine runs with. Nothing is written.
 */
import { tableKey, tableRunRef } from '../../config/index.ts';
import { close } from '../../db/index.ts';
import { ConfigError } from '../../errors.ts';
import { listTableKeys } from '../../state/store.ts';
import { MAX_PLAN_OUTPUT_BYTES } from '../definition.ts';
import { parseFileRunRequest } from '../request.ts';
import { connectFor } from '../sessions.ts';
import { resolveFile, tableRunName } from '../tables.ts';
import type { TaskDeps } from '../types.ts';

/** Input of Tables: the file's pipeline name, the execution's name and input. */
export interface TablesInput {
  readonly pipeline: string;
  readonly runId: string;
  readonly request: unknown;
}

/** One table the file's machine runs: 250 to 400 bytes with the names (see the payload test in test/unit/file-definition.test.ts). */
export interface TableItem {
  /** The table machine's `pipeline` (see tableRunRef): the table's state key, its entry and its primary key. */
  readonly ref: string;
  readonly table: string;
  readonly target: string;
  /** The table run's execution name. */
  readonly name: string;
}

/** Output of Tables. */
export interface TablesOutput {
  readonly pipeline: string;
  readonly runId: string;
  /** What every table's run gets as its request (the file's request without `tables`). */
  readonly request: { readonly full_refresh?: boolean };
  readonly tables: readonly TableItem[];
  /** Tables that resolved but cannot run (no primary key for a merge, a target another table loads): failed without a run. */
  readonly rejected: readonly {
    readonly table: string;
    readonly target: string;
    readonly entry: number;
    readonly error: { readonly name: string; readonly message: string };
  }[];
  readonly warnings: readonly string[];
  /** Tables with state that no entry resolves to now; their state is kept. */
  readonly missing: readonly string[];
}

/** Lists a file's tables for one run. */
export async function listTables(input: TablesInput, deps: TaskDeps): Promise<TablesOutput> {
  if (!deps.file) throw new ConfigError(`pipeline ${input.pipeline} lists tables, and this function serves no such file`);
  const file = deps.file(input.pipeline);
  const request = parseFileRunRequest(input.request);
  const source = await connectFor(deps, file.source, { readOnly: true });
  let resolution;
  try {
    resolution = await resolveFile(source, file, request.tables);
  } finally {
    await close(source);
  }
  const state = await connectFor(deps, file.state, {});
  let missing: string[] = [];
  try {
    if (!request.tables) {
      const now = new Set(resolution.tables.map((t) => tableKey(file.name, t.ref)));
      missing = (await listTableKeys(state, file.state.schema, file.name)).filter((k) => !now.has(k)).map((k) => k.slice(file.name.length + 1));
    }
  } finally {
    await close(state);
  }
  const output: TablesOutput = {
    pipeline: file.name,
    runId: input.runId,
    request: request.fullRefresh ? { full_refresh: true } : {},
    tables: resolution.tables
      .filter((t) => t.config)
      .map((t) => {
        const key = tableKey(file.name, t.ref);
        return { ref: tableRunRef(key, t.entry, t.primaryKey), table: t.table, target: t.target, name: tableRunName(input.runId, key) };
      }),
    rejected: resolution.tables
      .filter((t) => !t.config)
      .map((t) => ({
        table: t.table,
        target: t.target,
        entry: t.entry,
        error: { name: t.error?.name ?? 'ConfigError', message: t.error?.message ?? 'cannot run' },
      })),
    warnings: resolution.warnings,
    missing,
  };
  const bytes = Buffer.byteLength(JSON.stringify(output));
  if (bytes > MAX_PLAN_OUTPUT_BYTES) {
    throw new ConfigError([
      {
        file: file.file,
        path: 'tables',
        message: `${output.tables.length} tables make a list of ${bytes} bytes, more than a state's output may hold (${MAX_PLAN_OUTPUT_BYTES}); split the file in two, or run some tables with --table`,
      },
    ]);
  }
  deps.log.info('listed the tables of the run', { pipeline: file.name, runId: input.runId, tables: output.tables.length, rejected: output.rejected.length });
  return output;
}

/**
 * `pgferry state show|reset|unlock|export|import <file>`: inspect and manage a pipeline's cursor state; for a file
 * that lists tables, each table's (./state-tables.ts).
 */
import { loadPipelineSource, type TablesFile } from '../../config/index.ts';
import { openConnection } from '../../connections/index.ts';
import { close, query, type Db } from '../../db/index.ts';
import { ConfigError } from '../../errors.ts';
import { ensureStateSchema, getPipelineState, importCursor, listRuns, resetState, STATE_EXPORT_FORMAT, unlock, type StateExport } from '../../state/store.ts';
import { stateTableExistsSql } from '../../state/sql.ts';
import { ExitCode, type Io } from '../output.ts';
import { refuseTableOption } from '../table-option.ts';
import {
  readStateExport,
  stateTablesExport,
  stateTablesImport,
  stateTablesReset,
  stateTablesShow,
  stateTablesUnlock,
  type StateTablesOptions,
} from './state-tables.ts';

/** Options of the state commands: which tables of a file that lists tables. */
export interface StateCommandOptions {
  /** Only these tables (`schema.name`; repeatable). */
  readonly tables?: readonly string[];
  /** Every table with state (reset and unlock of a file that lists tables need this or `tables`). */
  readonly all?: boolean;
}

/** What a single-table command works on: the state connection, its schema and the pipeline's name. */
type SingleWork = (db: Db, schema: string, pipeline: string) => Promise<number>;
/** What a tables command works on: the state connection and the file. */
type TablesWork = (db: Db, file: TablesFile, options: StateTablesOptions) => Promise<number>;

/** Opens the file's state database and runs the command of the file's form. */
async function withState(file: string, options: StateCommandOptions, single: SingleWork, tables: TablesWork): Promise<number> {
  const loaded = await loadPipelineSource(file);
  if (loaded.kind === 'single') refuseTableOption(file, options.tables, options.all);
  const stateRef = loaded.kind === 'single' ? loaded.config.state : loaded.state;
  const db = await openConnection(stateRef);
  try {
    if (loaded.kind === 'single') return await single(db, loaded.config.state.schema, loaded.config.name);
    return await tables(db, loaded, { tables: options.tables ?? [], all: options.all ?? false });
  } finally {
    await close(db);
  }
}

/** Whether the state schema's tables exist (before a first run they do not). */
async function stateExists(db: Db, schema: string): Promise<boolean> {
  return (await query<{ ok: boolean }>(db, stateTableExistsSql(schema), 'reading the state')).rows[0]?.ok ?? false;
}

/** Prints the pipeline's state row and its last runs as JSON; for a file of tables, every table with state. */
export async function stateShowCommand(file: string, options: StateCommandOptions, io: Io): Promise<number> {
  return withState(
    file,
    options,
    async (db, schema, pipeline) => {
      if (!(await stateExists(db, schema))) {
        io.out(JSON.stringify({ pipeline, state: null, runs: [] }, null, 2));
        return ExitCode.ok;
      }
      const state = await getPipelineState(db, schema, pipeline);
      const runs = (await listRuns(db, schema, pipeline, 10)).map(({ plan: _plan, ...run }) => run);
      io.out(JSON.stringify({ pipeline, state: state ?? null, runs }, null, 2));
      return ExitCode.ok;
    },
    (db, f, o) => stateTablesShow(db, f, o, io),
  );
}

/** Forgets the cursor: the next run extracts everything. Refused while a run holds the lease. */
export async function stateResetCommand(file: string, options: StateCommandOptions, io: Io): Promise<number> {
  return withState(
    file,
    options,
    async (db, schema, pipeline) => {
      if (!(await stateExists(db, schema)) || !(await resetState(db, schema, pipeline))) {
        io.err(`pipeline ${pipeline} has no stored state; nothing to reset`);
        return ExitCode.ok;
      }
      io.err(`pipeline ${pipeline}: cursor reset; the next run extracts everything`);
      return ExitCode.ok;
    },
    (db, f, o) => stateTablesReset(db, f, o, io),
  );
}

/** Prints the pipeline's cursor as portable JSON (to move it to another state database); a file of tables: every table's. */
export async function stateExportCommand(file: string, options: StateCommandOptions, io: Io): Promise<number> {
  return withState(
    file,
    options,
    async (db, schema, pipeline) => {
      const state = (await stateExists(db, schema)) ? await getPipelineState(db, schema, pipeline) : undefined;
      const exported: StateExport = {
        format: STATE_EXPORT_FORMAT,
        pipeline,
        cursor: state?.cursor ?? null,
        lastSuccessRunId: state?.lastSuccessRunId ?? null,
        lastSuccessAt: state?.lastSuccessAt?.toISOString() ?? null,
        exportedAt: new Date().toISOString(),
      };
      io.out(JSON.stringify(exported, null, 2));
      return ExitCode.ok;
    },
    (db, f, o) => stateTablesExport(db, f, o, io),
  );
}

/**
 * Reads a `state export` file and stores its cursor for the pipeline; the pipeline names must match. A file of tables
 * takes the export of a file of tables, or a single-table pipeline's export onto the one table `--table` names.
 */
export async function stateImportCommand(file: string, jsonFile: string, options: StateCommandOptions, io: Io): Promise<number> {
  const parsed = await readStateExport(jsonFile);
  return withState(
    file,
    options,
    async (db, schema, pipeline) => {
      if (parsed.format !== STATE_EXPORT_FORMAT) {
        throw new ConfigError([
          {
            file: jsonFile,
            path: 'format',
            message: `is the export of a file that lists tables, but ${file} defines the single-table pipeline ${pipeline}; import it into a file that lists tables`,
          },
        ]);
      }
      if (parsed.pipeline !== pipeline) {
        throw new ConfigError([
          { file: jsonFile, path: 'pipeline', message: `is ${JSON.stringify(parsed.pipeline)} but ${file} defines pipeline ${pipeline}` },
        ]);
      }
      await ensureStateSchema(db, schema);
      await importCursor(db, schema, pipeline, parsed.cursor);
      io.err(`pipeline ${pipeline}: cursor imported from ${jsonFile}`);
      return ExitCode.ok;
    },
    (db, f, o) => stateTablesImport(db, f, parsed, jsonFile, o, io),
  );
}

/** Releases a lease left by a run that died (a killed process); the next run need not wait for it to expire. */
export async function stateUnlockCommand(file: string, options: StateCommandOptions, io: Io): Promise<number> {
  return withState(
    file,
    options,
    async (db, schema, pipeline) => {
      const holder = (await stateExists(db, schema)) ? await unlock(db, schema, pipeline) : undefined;
      io.err(holder ? `pipeline ${pipeline}: released the lease of run ${holder} (marked failed)` : `pipeline ${pipeline}: no run holds the lease`);
      return ExitCode.ok;
    },
    (db, f, o) => stateTablesUnlock(db, f, o, io),
  );
}

/**
 * The state commands for a file that lists tables. Each table's state is a pipeline's, under the key
 * `<file>/<schema.name>`; `--table` names tables by their source name, as `plan` lists them. These commands read
 * only the state database: a table dropped at the source keeps its state and can still be shown, reset or exported.
 */
import { readFile } from 'node:fs/promises';
import { formatTableName, parseTableName, tableKey, type TablesFile } from '../../config/index.ts';
import { transaction, type Db } from '../../db/index.ts';
import { ConfigError, LeaseHeldError } from '../../errors.ts';
import {
  ensureStateSchema,
  importCursor,
  listTableKeys,
  listTableStates,
  resetState,
  STATE_EXPORT_FORMAT,
  TABLES_STATE_EXPORT_FORMAT,
  unlock,
  type StateExport,
  type TablesStateExport,
  type TableState,
} from '../../state/store.ts';
import { ExitCode, type Io } from '../output.ts';
import { tableRefs } from '../table-option.ts';

/** Which tables a state command of a file of tables works on. */
export interface StateTablesOptions {
  /** `--table` names, as given. */
  readonly tables: readonly string[];
  /** `--all`: every table with state. */
  readonly all: boolean;
}

/** A state export of either form. */
export type AnyStateExport = StateExport | TablesStateExport;

/** A table named on the command line, and its state key. */
interface Chosen {
  readonly table: string;
  readonly key: string;
}

function named(file: TablesFile, tables: readonly string[]): Chosen[] {
  return tableRefs(file.file, tables).map((ref) => ({ table: formatTableName(ref), key: tableKey(file.name, ref) }));
}

/** The tables `--table` or `--all` name; one of the two is required, so a bare reset never forgets every cursor. */
function chosen(file: TablesFile, options: StateTablesOptions, command: string, keys: readonly string[]): Chosen[] {
  if (options.all && options.tables.length > 0) throw new ConfigError([{ file: file.file, path: '--all', message: 'give --table or --all, not both' }]);
  if (!options.all && options.tables.length === 0) {
    throw new ConfigError([
      {
        file: file.file,
        path: '--table',
        message: `the file lists tables: state ${command} needs --table NAME (repeatable) for some tables, or --all for every table with state`,
      },
    ]);
  }
  if (!options.all) return named(file, options.tables);
  return keys.map((key) => ({ table: key.slice(file.name.length + 1), key }));
}

/** The state of the named tables (none of them stored: every field null), or of every table with state. */
function selected(file: TablesFile, options: StateTablesOptions, states: readonly TableState[]): TableState[] {
  if (options.tables.length === 0) return [...states];
  return named(file, options.tables).map(
    (c) =>
      states.find((s) => s.pipeline === c.key) ?? {
        pipeline: c.key,
        table: c.table,
        cursor: null,
        leaseRunId: null,
        leaseUntil: null,
        lastSuccessRunId: null,
        lastSuccessAt: null,
        lastRun: null,
      },
  );
}

/** Prints every table with state (or the named ones): cursor, last success, lease and latest run, as JSON. */
export async function stateTablesShow(db: Db, file: TablesFile, options: StateTablesOptions, io: Io): Promise<number> {
  const states = selected(file, options, await listTableStates(db, file.state.schema, file.name));
  const tables = states.map(({ pipeline: _key, ...state }) => state);
  io.out(JSON.stringify({ pipeline: file.name, tables }, null, 2));
  return ExitCode.ok;
}

/** Forgets the named tables' cursors (or every table's with `--all`); a table whose lease is held is refused alone (exit 3). */
export async function stateTablesReset(db: Db, file: TablesFile, options: StateTablesOptions, io: Io): Promise<number> {
  const keys = await listTableKeys(db, file.state.schema, file.name);
  const tables = chosen(file, options, 'reset', keys);
  if (tables.length === 0) io.err(`pipeline ${file.name}: no table has stored state; nothing to reset`);
  let held = false;
  for (const t of tables) {
    try {
      const reset = keys.includes(t.key) && (await resetState(db, file.state.schema, t.key));
      io.err(reset ? `pipeline ${t.key}: cursor reset; the next run extracts everything` : `pipeline ${t.key} has no stored state; nothing to reset`);
    } catch (error) {
      if (!(error instanceof LeaseHeldError)) throw error;
      io.err(`pipeline ${t.key}: not reset: ${error.name}: ${error.message}`);
      held = true;
    }
  }
  return held ? ExitCode.alreadyRunning : ExitCode.ok;
}

/** Releases the leases of the named tables (or of every table with `--all`) left by runs that died. */
export async function stateTablesUnlock(db: Db, file: TablesFile, options: StateTablesOptions, io: Io): Promise<number> {
  const keys = await listTableKeys(db, file.state.schema, file.name);
  const tables = chosen(file, options, 'unlock', keys);
  if (tables.length === 0) io.err(`pipeline ${file.name}: no table has stored state; nothing to unlock`);
  for (const t of tables) {
    const holder = keys.includes(t.key) ? await unlock(db, file.state.schema, t.key) : undefined;
    io.err(holder ? `pipeline ${t.key}: released the lease of run ${holder} (marked failed)` : `pipeline ${t.key}: no run holds the lease`);
  }
  return ExitCode.ok;
}

/** Prints the cursors of every table with state (or of the named ones) as one portable JSON document. */
export async function stateTablesExport(db: Db, file: TablesFile, options: StateTablesOptions, io: Io): Promise<number> {
  const states = selected(file, options, await listTableStates(db, file.state.schema, file.name));
  const exported: TablesStateExport = {
    format: TABLES_STATE_EXPORT_FORMAT,
    pipeline: file.name,
    tables: states.map((s) => ({
      table: s.table,
      cursor: s.cursor ?? null,
      lastSuccessRunId: s.lastSuccessRunId,
      lastSuccessAt: s.lastSuccessAt?.toISOString() ?? null,
    })),
    exportedAt: new Date().toISOString(),
  };
  io.out(JSON.stringify(exported, null, 2));
  return ExitCode.ok;
}

/**
 * Stores the cursors of an export of this file (every table in it, or the `--table` ones) in one transaction, so a
 * held lease on one table leaves every cursor as it was; or a single-table pipeline's cursor onto the one table
 * `--table` names (moving a pipeline of one table into a file of tables).
 */
export async function stateTablesImport(
  db: Db,
  file: TablesFile,
  parsed: AnyStateExport,
  jsonFile: string,
  options: StateTablesOptions,
  io: Io,
): Promise<number> {
  const schema = file.state.schema;
  if (parsed.format === STATE_EXPORT_FORMAT) {
    const [one, ...more] = named(file, options.tables);
    if (!one || more.length > 0) {
      throw new ConfigError([
        {
          file: jsonFile,
          path: 'format',
          message: `is the export of the single-table pipeline ${parsed.pipeline}, and ${file.file} lists tables: name the one table that takes its cursor with --table NAME (exactly one)`,
        },
      ]);
    }
    await ensureStateSchema(db, schema);
    await importCursor(db, schema, one.key, parsed.cursor);
    io.err(`pipeline ${one.key}: cursor of pipeline ${parsed.pipeline} imported from ${jsonFile}`);
    return ExitCode.ok;
  }
  if (parsed.pipeline !== file.name) {
    throw new ConfigError([
      { file: jsonFile, path: 'pipeline', message: `is ${JSON.stringify(parsed.pipeline)} but ${file.file} defines pipeline ${file.name}` },
    ]);
  }
  const exported = parsed.tables.map((t, i) => {
    const ref = parseTableName(t.table);
    if ('problem' in ref) throw new ConfigError([{ file: jsonFile, path: `tables[${i}].table`, message: ref.problem }]);
    return { cursor: t.cursor, table: formatTableName(ref), key: tableKey(file.name, ref) };
  });
  let tables = exported;
  if (options.tables.length > 0) {
    const wanted = named(file, options.tables);
    const absent = wanted.filter((w) => !exported.some((t) => t.key === w.key)).map((w) => JSON.stringify(w.table));
    if (absent.length > 0) {
      throw new ConfigError([
        {
          file: jsonFile,
          path: 'tables',
          message: `holds no cursor for ${absent.join(', ')}; it holds ${exported.map((t) => t.table).join(', ') || 'no table'}`,
        },
      ]);
    }
    tables = exported.filter((t) => wanted.some((w) => w.key === t.key));
  }
  await ensureStateSchema(db, schema);
  await transaction(
    db,
    async () => {
      for (const t of tables) await importCursor(db, schema, t.key, t.cursor);
    },
    'importing the state',
  );
  io.err(`pipeline ${file.name}: cursors of ${tables.length} table(s) imported from ${jsonFile}`);
  return ExitCode.ok;
}

/** Reads a `state export` file of either form; ConfigError when it is neither. */
export async function readStateExport(jsonFile: string): Promise<AnyStateExport> {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(await readFile(jsonFile, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError([{ file: jsonFile, path: '', message: `not a pgferry state export: ${(error as Error).message}` }]);
  }
  const isObject = typeof parsed === 'object' && parsed !== null;
  if (isObject && parsed.format === STATE_EXPORT_FORMAT && typeof parsed.pipeline === 'string' && 'cursor' in parsed) {
    return parsed as unknown as StateExport;
  }
  if (
    isObject &&
    parsed.format === TABLES_STATE_EXPORT_FORMAT &&
    typeof parsed.pipeline === 'string' &&
    Array.isArray(parsed.tables) &&
    parsed.tables.every((t: unknown) => typeof t === 'object' && t !== null && typeof (t as { table?: unknown }).table === 'string' && 'cursor' in t)
  ) {
    return parsed as unknown as TablesStateExport;
  }
  throw new ConfigError([
    {
      file: jsonFile,
      path: 'format',
      message: `expected a pgferry state export ({"format": "${STATE_EXPORT_FORMAT}", "pipeline", "cursor", ...}, or {"format": "${TABLES_STATE_EXPORT_FORMAT}", "pipeline", "tables": [{"table", "cursor", ...}]})`,
    },
  ]);
}

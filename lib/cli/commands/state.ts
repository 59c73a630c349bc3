/** `pgferry state show|reset <file>`: inspect and manage a pipeline's cursor state. */
import { readFile } from 'node:fs/promises';
import { loadPipelineFile } from '../../config/index.ts';
import { openConnection } from '../../connections/index.ts';
import { close, query } from '../../db/index.ts';
import { ConfigError } from '../../errors.ts';
import { ensureStateSchema, getPipelineState, importCursor, listRuns, resetState, unlock, type StateExport } from '../../state/store.ts';
import { ExitCode, type Io } from '../output.ts';

async function withState<T>(file: string, work: (db: Awaited<ReturnType<typeof openConnection>>, schema: string, pipeline: string) => Promise<T>): Promise<T> {
  const config = await loadPipelineFile(file);
  const db = await openConnection(config.state);
  try {
    return await work(db, config.state.schema, config.name);
  } finally {
    await close(db);
  }
}

async function stateExists(db: Awaited<ReturnType<typeof openConnection>>, schema: string): Promise<boolean> {
  const r = await query<{ ok: boolean }>(db, { text: `SELECT to_regclass(format('%I.pipeline_state', $1::text)) IS NOT NULL AS ok`, values: [schema] });
  return r.rows[0]?.ok ?? false;
}

/** Prints the pipeline's state row and its last runs as JSON. */
export async function stateShowCommand(file: string, io: Io): Promise<number> {
  return withState(file, async (db, schema, pipeline) => {
    if (!(await stateExists(db, schema))) {
      io.out(JSON.stringify({ pipeline, state: null, runs: [] }, null, 2));
      return ExitCode.ok;
    }
    const state = await getPipelineState(db, schema, pipeline);
    const runs = (await listRuns(db, schema, pipeline, 10)).map(({ plan: _plan, ...run }) => run);
    io.out(JSON.stringify({ pipeline, state: state ?? null, runs }, null, 2));
    return ExitCode.ok;
  });
}

/** Forgets the cursor: the next run extracts everything. Refused while a run holds the lease. */
export async function stateResetCommand(file: string, io: Io): Promise<number> {
  return withState(file, async (db, schema, pipeline) => {
    if (!(await stateExists(db, schema)) || !(await resetState(db, schema, pipeline))) {
      io.err(`pipeline ${pipeline} has no stored state; nothing to reset`);
      return ExitCode.ok;
    }
    io.err(`pipeline ${pipeline}: cursor reset; the next run extracts everything`);
    return ExitCode.ok;
  });
}

/** Prints the pipeline's cursor as portable JSON (to move it to another state database). */
export async function stateExportCommand(file: string, io: Io): Promise<number> {
  return withState(file, async (db, schema, pipeline) => {
    const state = (await stateExists(db, schema)) ? await getPipelineState(db, schema, pipeline) : undefined;
    const exported: StateExport = {
      format: 'pgferry-state/1',
      pipeline,
      cursor: state?.cursor ?? null,
      lastSuccessRunId: state?.lastSuccessRunId ?? null,
      lastSuccessAt: state?.lastSuccessAt?.toISOString() ?? null,
      exportedAt: new Date().toISOString(),
    };
    io.out(JSON.stringify(exported, null, 2));
    return ExitCode.ok;
  });
}

/** Reads a `state export` file and stores its cursor for the pipeline; the pipeline names must match. */
export async function stateImportCommand(file: string, jsonFile: string, io: Io): Promise<number> {
  let parsed: Partial<StateExport>;
  try {
    parsed = JSON.parse(await readFile(jsonFile, 'utf8')) as Partial<StateExport>;
  } catch (error) {
    throw new ConfigError([{ file: jsonFile, path: '', message: `not a pgferry state export: ${(error as Error).message}` }]);
  }
  if (parsed.format !== 'pgferry-state/1' || typeof parsed.pipeline !== 'string' || !('cursor' in parsed)) {
    throw new ConfigError([
      { file: jsonFile, path: 'format', message: 'expected a pgferry state export ({"format": "pgferry-state/1", "pipeline", "cursor", ...})' },
    ]);
  }
  return withState(file, async (db, schema, pipeline) => {
    if (parsed.pipeline !== pipeline) {
      throw new ConfigError([{ file: jsonFile, path: 'pipeline', message: `is ${JSON.stringify(parsed.pipeline)} but ${file} defines pipeline ${pipeline}` }]);
    }
    await ensureStateSchema(db, schema);
    await importCursor(db, schema, pipeline, parsed.cursor);
    io.err(`pipeline ${pipeline}: cursor imported from ${jsonFile}`);
    return ExitCode.ok;
  });
}

/** Releases a lease left by a run that died (a killed process); the next run need not wait for it to expire. */
export async function stateUnlockCommand(file: string, io: Io): Promise<number> {
  return withState(file, async (db, schema, pipeline) => {
    const holder = (await stateExists(db, schema)) ? await unlock(db, schema, pipeline) : undefined;
    io.err(holder ? `pipeline ${pipeline}: released the lease of run ${holder} (marked failed)` : `pipeline ${pipeline}: no run holds the lease`);
    return ExitCode.ok;
  });
}

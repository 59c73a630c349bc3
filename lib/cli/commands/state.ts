/** `pgferry state show|reset <file>`: inspect and manage a pipeline's cursor state. */
import { loadPipelineFile } from '../../config/index.ts';
import { openConnection } from '../../connections/index.ts';
import { close, query } from '../../db/index.ts';
import { getPipelineState, listRuns, resetState } from '../../state/store.ts';
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

/** Reading a run's record and plan from the state database, for the tasks after Plan. */
import type { Db } from '../../db/index.ts';
import { DatabaseError } from '../../errors.ts';
import { getRun } from '../../state/store.ts';
import type { RunPlan, RunRecord } from '../../state/types.ts';

/** The run and its plan; an error when Plan never recorded it. */
export async function requirePlan(state: Db, schema: string, runId: string): Promise<{ run: RunRecord; plan: RunPlan }> {
  const run = await getRun(state, schema, runId);
  if (!run?.plan) throw new DatabaseError(`run ${runId} has no recorded plan`);
  return { run, plan: run.plan };
}

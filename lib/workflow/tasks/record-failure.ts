/** Task RecordFailure: records the failed run with its error, releases the lease, drops staging. */
import { redact } from '../../connections/index.ts';
import { DatabaseError } from '../../errors.ts';
import { dropStaging } from '../../sink/staging.ts';
import { ensureStateSchema, failRun, getRun, lastChunkError, summarize } from '../../state/store.ts';
import type { RunSummary } from '../../state/types.ts';
import { withSessions } from '../sessions.ts';
import type { FailureInput, StepError, TaskDeps } from '../types.ts';

/** Errors a Map reports in place of the chunk's own error. */
const MAP_FAILURES = new Set(['States.ExceedToleratedFailureThreshold', 'States.ItemReaderFailed']);

/** Turns a Catch's `{Error, Cause}` into `{name, message}`; Lambda puts a JSON object in Cause. */
export function parseStepError(error: StepError): { name: string; message: string } {
  const name = error.Error ?? 'Error';
  let message = error.Cause ?? '';
  try {
    const parsed: unknown = JSON.parse(message);
    if (parsed && typeof parsed === 'object' && 'errorMessage' in parsed) message = String((parsed as { errorMessage: unknown }).errorMessage);
  } catch {
    // Cause is plain text (the local runner, or a States.* error).
  }
  return { name, message: redact(message) };
}

/** What RecordFailure returns: the run summary, and the recorded error as the Fail state shows it. */
export type RecordedFailure = RunSummary & { readonly failure: { readonly Error: string; readonly Cause: string } };

/** The run's recorded error as a Fail state's `{Error, Cause}`. */
export function failureOf(error: { name: string; message: string }): { Error: string; Cause: string } {
  return { Error: error.name, Cause: error.message };
}

/** Records the failure. The target and the cursor were never touched by a failed run, so only state and staging change. */
export async function recordFailure(input: FailureInput, deps: TaskDeps): Promise<RecordedFailure> {
  const config = deps.pipeline(input.pipeline);
  const schema = config.state.schema;
  let error = parseStepError(input.error);
  return withSessions(config, deps, {}, async ({ state, shared }) => {
    await ensureStateSchema(state, schema);
    if (MAP_FAILURES.has(error.name)) error = (await lastChunkError(state, schema, input.runId).catch(() => undefined)) ?? error;
    await failRun(state, schema, config.name, input.runId, error);
    const run = await getRun(state, schema, input.runId);
    if (run?.plan) {
      const plan = run.plan;
      // A separate sink may be what failed; staging left there is dropped by the next run.
      const dropped = shared
        ? dropStaging(state, plan)
        : withSessions(config, deps, { target: true }, async ({ target }) => (target ? dropStaging(target, plan) : undefined));
      await dropped.catch((e: unknown) => deps.log.warn('could not drop the staging table; the next run will', { error: redact(String(e)) }));
    }
    deps.log.error('run failed', { pipeline: config.name, runId: input.runId, error });
    if (!run) throw new DatabaseError(`run ${input.runId} could not be recorded`);
    const summary = summarize(run);
    // A run that had already succeeded keeps its record; the execution still fails with this task's error.
    return { ...summary, failure: failureOf(run.error ?? error) };
  });
}

/** Task Apply: the strategy SQL and the cursor move, in one target transaction guarded by the lease. */
import type { PipelineConfig } from '../../config/index.ts';
import { transaction, type Db } from '../../db/index.ts';
import { IncompleteRunError, InternalError, LeaseLostError } from '../../errors.ts';
import { applyStrategy, runStrategyAhead } from '../../sink/strategies/index.ts';
import { stagedTotals, stagingTables } from '../../sink/staging.ts';
import { completeRun, fence, renewLease } from '../../state/store.ts';
import { withHeartbeat } from '../heartbeat.ts';
import type { RunPlan, RunRecord } from '../../state/types.ts';
import { connectTarget, withSessions } from '../sessions.ts';
import { requirePlan } from './run-record.ts';
import type { ApplyOutput, RunInput, TaskDeps } from '../types.ts';

/**
 * Applies the run. When the state lives in the sink database (the default) the cursor moves in the same
 * transaction as the rows; otherwise the state transaction holds the fencing lock around the target's
 * commit and commits right after it (see README: a crash between the two commits re-loads the window).
 */
export async function applyRun(input: RunInput, deps: TaskDeps): Promise<ApplyOutput> {
  const config = deps.pipeline(input.pipeline);
  const schema = config.state.schema;
  return withSessions(config, deps, { target: true }, async ({ state, target, shared }) => {
    if (!target) throw new InternalError('apply needs a target connection');
    const { run, plan } = await requirePlan(state, schema, input.runId);
    // A retry after a commit whose acknowledgement was lost: the work is done, do not do it again.
    if (run.status === 'succeeded') return { rowsInserted: run.rowsInserted ?? 0, rowsDeleted: run.rowsDeleted ?? 0 };
    if (run.status !== 'running') throw new LeaseLostError(config.name, input.runId);
    // The lease is renewed before the work ahead of the transaction (an exchange's index builds), beats while
    // it runs, and is renewed again right before the fence, whose row lock then holds it until COMMIT.
    const ttl = config.state.lease_ttl;
    await renewLease(state, schema, config.name, input.runId, ttl);
    const { stagingAnalyzed } = await withHeartbeat(config, deps, input.runId, [target], async () => {
      const ahead = await runStrategyAhead(target, config, plan, { connect: () => connectTarget(config, deps), log: deps.log });
      await deps.hooks?.beforeApplyFence?.({ pipeline: config.name, runId: input.runId });
      return ahead;
    });
    await renewLease(state, schema, config.name, input.runId, ttl);
    const apply = (): Promise<ApplyOutput> => applyInTransaction(target, shared ? target : state, config, run, plan, input.runId, deps, stagingAnalyzed);
    if (shared) return transaction(target, apply, 'applying the run');
    return transaction(state, () => transaction(target, apply, 'applying the run'), 'applying the run');
  });
}

async function applyInTransaction(
  target: Db,
  state: Db,
  config: PipelineConfig,
  run: RunRecord,
  plan: RunPlan,
  runId: string,
  deps: TaskDeps,
  stagingAnalyzed: boolean,
): Promise<ApplyOutput> {
  const schema = config.state.schema;
  const { cursor } = await fence(state, schema, config.name, runId);
  const staged = await stagedTotals(target, plan);
  if (staged.chunks !== run.chunkCount) {
    throw new IncompleteRunError(`run ${runId}: ${staged.chunks} of ${run.chunkCount ?? 0} chunks are in staging; nothing was applied`);
  }
  const result = await applyStrategy({
    db: target,
    config,
    plan,
    staging: stagingTables(plan).staging,
    stagedRows: staged.rows,
    cursorBefore: cursor ?? null,
    log: deps.log,
    stagingAnalyzed,
  });
  // The cursor moves to the window's upper bound only now, in the transaction that loads the rows.
  await completeRun(state, schema, config.name, runId, {
    rowsExtracted: staged.rows,
    rowsInserted: result.rowsInserted,
    rowsDeleted: result.rowsDeleted,
    bytes: staged.bytes,
    cursorAfter: plan.window.cursorAfter ?? cursor ?? null,
  });
  await deps.hooks?.beforeApplyCommit?.({ pipeline: config.name, runId });
  return result;
}

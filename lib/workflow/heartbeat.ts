/**
 * The lease's heartbeat: while a task works, a connection of its own renews the run's lease every
 * third of `state.lease_ttl` (at most every minute), so a live run never loses it however long a chunk,
 * a plan or an apply's index builds take. When a renewal finds the lease gone (the cleanup task released
 * it, `state unlock`, or another run took it over) the task's connections are closed at once, so its
 * COPY or statement stops instead of working on for a run that is no longer current.
 */
import type { PipelineConfig } from '../config/index.ts';
import { close, type Db } from '../db/index.ts';
import { LeaseLostError } from '../errors.ts';
import { renewLease } from '../state/store.ts';
import { connectState } from './sessions.ts';
import type { TaskDeps } from './types.ts';

/** Milliseconds between two renewals of a lease that lasts `ttlMs`: a third of it, from 1 s to 60 s. */
export function heartbeatIntervalMs(ttlMs: number): number {
  return Math.min(60_000, Math.max(1_000, Math.floor(ttlMs / 3)));
}

/**
 * Runs `work` while the lease of `runId` is renewed beside it. `stopOnLoss` are the connections closed when
 * the lease is lost; the task then fails with LeaseLostError (never retried) instead of their errors.
 */
export async function withHeartbeat<T>(
  config: PipelineConfig,
  deps: TaskDeps,
  runId: string,
  stopOnLoss: readonly (Db | undefined)[],
  work: () => Promise<T>,
): Promise<T> {
  const schema = config.state.schema;
  const ttl = config.state.lease_ttl;
  let db: Db | undefined;
  let lost: LeaseLostError | undefined;
  let beating: Promise<void> | undefined;
  const beat = async (): Promise<void> => {
    try {
      db ??= await connectState(config, deps);
      await renewLease(db, schema, config.name, runId, ttl);
    } catch (error) {
      if (error instanceof LeaseLostError) {
        lost = error;
        clearInterval(timer);
        deps.log.warn('the run no longer holds its lease; stopping this task', { pipeline: config.name, runId });
        await Promise.all(stopOnLoss.map(close));
        return;
      }
      // A renewal that fails for another reason is tried again at the next beat; the lease outlasts two misses.
      deps.log.warn('could not renew the lease; trying again at the next beat', { pipeline: config.name, runId, error: String(error) });
      const broken = db;
      db = undefined;
      await close(broken);
    }
  };
  const timer = setInterval(() => {
    beating ??= beat().finally(() => {
      beating = undefined;
    });
  }, heartbeatIntervalMs(ttl));
  try {
    const result = await work();
    if (lost) throw lost;
    return result;
  } catch (error) {
    throw lost ?? error;
  } finally {
    clearInterval(timer);
    await beating;
    await close(db);
  }
}

/** The pipeline's lease, which lets one run at a time move its cursor: take, renew, check (fence), release, unlock. */
import { query, transaction, type Db } from '../db/index.ts';
import { LeaseHeldError, LeaseLostError, PgferryError } from '../errors.ts';
import { acquireLeaseSql, fenceSql, LEASE_LOCK_TIMEOUT, leaseHolderSql, leaseLockTimeoutSql, releaseLeaseSql, renewLeaseSql, unlockSql } from './lease-sql.ts';
import { failRunningRunSql } from './runs-sql.ts';

/** The lease columns of a pipeline's row. */
type LeaseHolder = {
  readonly lease_run_id: string | null;
  readonly lease_until: Date | null;
};

/**
 * Takes the pipeline's lease for `runId` for `ttlMs`, returning the stored cursor; LeaseHeldError when
 * another live run has it, or when a run's Apply holds the row locked (its fence) for longer than
 * {@link LEASE_LOCK_TIMEOUT}: that run is alive, so this one is skipped instead of waiting for it.
 */
export async function acquireLease(db: Db, schema: string, pipeline: string, runId: string, ttlMs?: number): Promise<{ cursor: unknown }> {
  try {
    const taken = await transaction(
      db,
      async () => {
        await query(db, leaseLockTimeoutSql(LEASE_LOCK_TIMEOUT), 'taking the lease');
        const before = await query<LeaseHolder>(db, leaseHolderSql(schema, pipeline), 'reading the lease');
        const row = (await query<{ cursor: unknown }>(db, acquireLeaseSql(schema, pipeline, runId, ttlMs), 'taking the lease')).rows[0];
        // Taking over an expired lease means its run died: without this its record would say 'running' forever.
        const previous = before.rows[0]?.lease_run_id;
        if (row && previous && previous !== runId) {
          const error = { name: 'LeaseLostError', message: `lease expired; taken over by run ${runId}` };
          await query(db, failRunningRunSql(schema, previous, error), 'recording the run whose lease expired');
        }
        return row;
      },
      'taking the lease',
    );
    if (taken) return { cursor: taken.cursor };
  } catch (error) {
    if (!(error instanceof PgferryError && (error as { code?: string }).code === '55P03')) throw error;
  }
  const h = (await query<LeaseHolder>(db, leaseHolderSql(schema, pipeline), 'reading the lease')).rows[0];
  throw new LeaseHeldError(pipeline, h?.lease_run_id ?? 'unknown', h?.lease_until ? h.lease_until.toISOString() : 'unknown');
}

/** Renews the lease for `ttlMs`; LeaseLostError when the run no longer holds it. */
export async function renewLease(db: Db, schema: string, pipeline: string, runId: string, ttlMs?: number): Promise<void> {
  const result = await query(db, renewLeaseSql(schema, pipeline, runId, ttlMs), 'renewing the lease');
  if (result.rowCount === 0) throw new LeaseLostError(pipeline, runId);
}

/** Locks the pipeline row for the rest of the transaction if `runId` holds the lease; LeaseLostError otherwise. */
export async function fence(db: Db, schema: string, pipeline: string, runId: string): Promise<{ cursor: unknown }> {
  const result = await query<{ cursor: unknown }>(db, fenceSql(schema, pipeline, runId), 'checking the lease');
  const row = result.rows[0];
  if (!row) throw new LeaseLostError(pipeline, runId);
  return { cursor: row.cursor };
}

/** Releases the lease if `runId` holds it; a no-op otherwise. */
export async function releaseLease(db: Db, schema: string, pipeline: string, runId: string): Promise<void> {
  await query(db, releaseLeaseSql(schema, pipeline, runId), 'releasing the lease');
}

/**
 * Releases the lease whoever holds it (`state unlock`), and marks the holder's run failed. Safe even if the
 * holder is still alive: its apply's fencing check will then refuse to move anything.
 */
export async function unlock(db: Db, schema: string, pipeline: string): Promise<string | undefined> {
  return transaction(
    db,
    async () => {
      const released = await query<{ holder: string | null }>(db, unlockSql(schema, pipeline), 'releasing the lease');
      const holder = released.rows[0]?.holder ?? undefined;
      if (holder) {
        const error = { name: 'LeaseLostError', message: 'lease released by pgferry state unlock' };
        await query(db, failRunningRunSql(schema, holder, error), 'recording the released run');
      }
      return holder;
    },
    'releasing the lease',
  );
}

/**
 * Holding a chunk's COPY mid-stream, for the tests that kill or clean up a run while it copies: a gate
 * function (used as the pipeline's custom_predicate) that waits on an advisory lock at one row, and a
 * probe that says when the COPY stands there with data already in the target.
 */
import type pg from 'pg';

/** Polls `probe` every 50 ms until it returns a value; an error naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `CREATE FUNCTION public.<name>(id bigint)`: true for every row, but at `gateId` inside a COPY it waits while `lock` is held. */
export function gateFunctionSql(name: string, lock: number, gateId: number): string {
  return `CREATE FUNCTION public.${name}(id bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF id = ${gateId} AND current_query() LIKE 'COPY%' THEN
    PERFORM pg_advisory_lock_shared(${lock});
    PERFORM pg_advisory_unlock_shared(${lock});
  END IF;
  RETURN true;
END $$`;
}

/**
 * Resolves once the source COPY waits at the gate row while the target's COPY has received data (its
 * tuples_processed only counts whole batches, so bytes are what tell).
 */
export async function copyMidStream(admin: pg.Client, sourceDatabase: string, targetDatabase: string, what: string): Promise<void> {
  await until(`${what}: the COPY to be mid-stream`, async () => {
    const r = await admin.query<{ waiting: boolean; copying: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND query LIKE 'COPY%') AS waiting,
  EXISTS (SELECT 1 FROM pg_stat_progress_copy p JOIN pg_stat_activity a USING (pid) WHERE a.datname = $2 AND p.command = 'COPY FROM' AND p.bytes_processed > 0) AS copying`,
      [sourceDatabase, targetDatabase],
    );
    return r.rows[0]?.waiting && r.rows[0]?.copying ? true : undefined;
  });
}

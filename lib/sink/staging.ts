/** Staging tables: per-run names, creation, cleanup, and the per-chunk load that never duplicates rows. */
import { createHash } from 'node:crypto';
import { MAX_IDENTIFIER_BYTES } from '../config/types.ts';
import { copyBetween, execute, query, transaction, type CopyResult, type Db } from '../db/index.ts';
import { DatabaseError, PgferryError } from '../errors.ts';
import { createStagingSql, dropStagingSql } from '../sql/ddl.ts';
import { copyFromSql, copyToSql } from '../sql/extract.ts';
import { analyzeStagingSql } from '../sql/load.ts';
import { XMIN_COLUMN } from '../sql/merge.ts';
import { ident, literal, qualified, type TableName } from '../sql/quote.ts';
import type { ColumnSpec } from '../sql/types.ts';
import type { RunPlan } from '../state/types.ts';
import { readLeftoverStaging, readSchemaExists } from './catalog/index.ts';

/** Cuts a string to at most `bytes` UTF-8 bytes without splitting a character. */
export function truncateBytes(text: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (used + size > bytes) break;
    out += char;
    used += size;
  }
  return out;
}

/**
 * Names of a run's staging table and its done table: a readable prefix of the target's name plus a hash of
 * pipeline and run, so two runs never share a name even when target names are 63 bytes long.
 */
export function stagingNames(pipeline: string, runId: string, target: TableName): { name: string; doneName: string } {
  const hash = createHash('sha256').update(`${pipeline}\u0000${runId}`).digest('hex').slice(0, 12);
  const suffix = `_${hash}`;
  const prefix = truncateBytes(target.name, MAX_IDENTIFIER_BYTES - suffix.length - '_done'.length);
  const name = `${prefix}${suffix}`;
  return { name, doneName: `${name}_done` };
}

/** The staging and done tables of a plan as table names. */
export function stagingTables(plan: RunPlan): { staging: TableName; done: TableName } {
  return {
    staging: { schema: plan.staging.schema, name: plan.staging.name },
    done: { schema: plan.staging.schema, name: plan.staging.doneName },
  };
}

/** Columns of the staging table: the extracted ones, plus the xmin tie-breaker when keep_last needs it. */
export function stagedColumns(plan: RunPlan): ColumnSpec[] {
  return plan.xminReference === undefined ? [...plan.columns] : [...plan.columns, { name: XMIN_COLUMN, type: 'bigint' }];
}

/** Creates the staging tables of a run (replacing those of an earlier attempt of the same plan). */
export async function createStaging(db: Db, plan: RunPlan, options: { pipeline: string; runId: string; logged: boolean }): Promise<void> {
  const { staging, done } = stagingTables(plan);
  const schemaExists = await readSchemaExists(db, staging.schema);
  await transaction(db, () =>
    execute(
      db,
      createStagingSql(staging, done, stagedColumns(plan), { ...options, schemaExists, notNull: plan.stagedNotNull ?? [] }),
      'creating the staging table',
    ),
  );
}

/** Drops the staging tables of a run; a no-op when they are already gone (e.g. exchanged into the target). */
export async function dropStaging(db: Db, plan: RunPlan): Promise<void> {
  const { staging, done } = stagingTables(plan);
  await execute(db, dropStagingSql(staging, done), 'dropping the staging table');
}

/**
 * Drops a dead run's staging tables even while stray tasks of that run still write to them: when the lock
 * is not granted within `lockTimeout`, the sessions holding locks on those tables are terminated (they
 * belong to the run being cleaned up, whose lease is already released) and the drop is tried again.
 * Returns how many sessions were terminated.
 */
export async function dropStagingOfDeadRun(db: Db, plan: RunPlan, options: { lockTimeout?: string; attempts?: number } = {}): Promise<number> {
  const { staging, done } = stagingTables(plan);
  const attempts = options.attempts ?? 5;
  let terminated = 0;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await transaction(
        db,
        async () => {
          await query(db, `SET LOCAL lock_timeout = ${literal(options.lockTimeout ?? '5s')}`, 'dropping the staging table');
          await execute(db, dropStagingSql(staging, done), 'dropping the staging table');
        },
        'dropping the staging table',
      );
      return terminated;
    } catch (error) {
      if (!(error instanceof PgferryError && (error as { code?: string }).code === '55P03') || attempt >= attempts) throw error;
      const stopped = await query<{ n: number }>(
        db,
        {
          text: `SELECT count(pg_terminate_backend(l.pid))::int AS n FROM pg_locks l
WHERE l.relation IN (to_regclass($1), to_regclass($2)) AND l.pid <> pg_backend_pid()`,
          values: [qualified(staging), qualified(done)],
        },
        'stopping the sessions of a dead run',
      );
      terminated += stopped.rows[0]?.n ?? 0;
    }
  }
}

/** Drops staging tables left by earlier runs of the pipeline (a crashed run); call while holding the lease. */
export async function dropLeftoverStaging(db: Db, schema: string, pipeline: string, keepRunId: string): Promise<string[]> {
  const names = await readLeftoverStaging(db, schema, pipeline, keepRunId);
  for (const name of names) {
    await query(db, `DROP TABLE IF EXISTS ${ident(schema)}.${ident(name)}`, 'dropping a leftover staging table');
  }
  return names;
}

/**
 * Loads one chunk into staging in one target transaction that also records the chunk in the done table:
 * a retry after a commit finds the record and copies nothing, a retry after a failure finds neither rows
 * nor record, and two concurrent attempts collide on the done table's primary key, where the later one
 * rolls its copy back and reports the committed one. Never duplicates.
 */
export async function loadChunk(source: Db, target: Db, plan: RunPlan, chunk: number, select: string): Promise<CopyResult & { skipped: boolean }> {
  const { staging, done } = stagingTables(plan);
  const recorded = async (): Promise<(CopyResult & { skipped: boolean }) | undefined> => {
    const seen = await query<{ rows: string; bytes: string }>(
      target,
      {
        text: `SELECT rows, bytes FROM ${qualified(done)} WHERE chunk = $1`,
        values: [chunk],
      },
      'reading the chunk record',
    );
    const previous = seen.rows[0];
    return previous ? { rows: Number(previous.rows), bytes: Number(previous.bytes), skipped: true } : undefined;
  };
  try {
    return await transaction(
      target,
      async () => {
        const previous = await recorded();
        if (previous) return previous;
        const copied = await copyBetween(
          source,
          target,
          copyToSql(select),
          copyFromSql(
            staging,
            stagedColumns(plan).map((c) => c.name),
          ),
        );
        await query(
          target,
          {
            text: `INSERT INTO ${qualified(done)} (chunk, rows, bytes) VALUES ($1, $2, $3)`,
            values: [chunk, copied.rows, copied.bytes],
          },
          'recording the chunk',
        );
        return { ...copied, skipped: false };
      },
      'loading the chunk',
    );
  } catch (error) {
    if (error instanceof DatabaseError && error.code === '23502' && (plan.stagedNotNull ?? []).length > 0) {
      throw new DatabaseError(
        `chunk ${chunk}: the source returned NULL in a column that is NOT NULL in the target, so the exchanged table could not hold it ` +
          `(${error.message}). This chunk was rolled back and the target is unchanged; filter those rows out with custom_predicate or drop the NOT NULL in the target`,
        error.code,
        { cause: error },
      );
    }
    // 23505: an earlier attempt of this chunk committed while this one copied; this copy was rolled back.
    if (!(error instanceof DatabaseError && error.code === '23505')) throw error;
    const committed = await recorded();
    if (!committed) throw error;
    return committed;
  }
}

/** ANALYZE of a run's staging table (inside the apply transaction, so it sees every chunk). */
export async function analyzeStaging(db: Db, staging: TableName): Promise<void> {
  await query(db, analyzeStagingSql(staging), 'analyzing staging');
}

/** Totals of the chunks loaded into staging. */
export async function stagedTotals(db: Db, plan: RunPlan): Promise<{ chunks: number; rows: number; bytes: number }> {
  const { done } = stagingTables(plan);
  const result = await query<{ chunks: string; rows: string; bytes: string }>(
    db,
    `SELECT count(*) AS chunks, coalesce(sum(rows), 0) AS rows, coalesce(sum(bytes), 0) AS bytes FROM ${qualified(done)}`,
    'counting staged chunks',
  );
  const row = result.rows[0];
  return { chunks: Number(row?.chunks ?? 0), rows: Number(row?.rows ?? 0), bytes: Number(row?.bytes ?? 0) };
}

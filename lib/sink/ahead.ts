/**
 * Work on the staging table that can run before the apply transaction, several statements at once on their own
 * connections: index builds an exchange adopts, ANALYZE. Every job is an optimisation the apply transaction
 * would otherwise do itself, so a failed job is logged and left to it; nothing here touches the target.
 */
import { close, query, transaction, type Db } from '../db/index.ts';
import type { TaskLogger } from '../log.ts';

/** One job: statements run in one transaction on one connection. */
export interface AheadJob {
  /** What the job does, for the log. */
  readonly what: string;
  readonly statements: readonly string[];
  /** The job is the ANALYZE of staging, which the apply then need not run again. */
  readonly analyzesStaging?: boolean;
}

/** How {@link runAhead} runs its jobs. */
export interface AheadOptions {
  /** Jobs at once, each on its own connection. */
  readonly parallel: number;
  /** Opens one connection to the target database. */
  readonly connect: () => Promise<Db>;
  readonly log: TaskLogger;
}

/**
 * Runs `jobs`, at most `parallel` at once, taken in the order given.
 * Returns the indexes of the jobs that committed; the others failed (logged as warnings) or were not reached
 * because no connection could be opened.
 */
export async function runAhead(jobs: readonly AheadJob[], options: AheadOptions): Promise<Set<number>> {
  const done = new Set<number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    let db: Db;
    try {
      db = await options.connect();
    } catch (error) {
      options.log.warn('could not open a connection for work ahead of the apply; the apply will do it', { error: String(error) });
      return;
    }
    try {
      for (let job = next++; job < jobs.length; job = next++) {
        const { what, statements } = jobs[job] as AheadJob;
        try {
          await transaction(
            db,
            async () => {
              for (const sql of statements) await query(db, sql, what);
            },
            what,
          );
          done.add(job);
        } catch (error) {
          options.log.warn(`${what} failed ahead of the apply; the apply will do it`, { error: String(error) });
        }
      }
    } finally {
      await close(db);
    }
  };
  const workers = Math.max(0, Math.min(jobs.length, Math.trunc(options.parallel)));
  await Promise.all(Array.from({ length: workers }, worker));
  return done;
}

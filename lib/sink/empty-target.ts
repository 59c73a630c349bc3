/**
 * The first load of an incremental target that exists but holds no rows (the table a user created before
 * the first run, or one the run just created). Merging into an empty table can only insert, so it is loaded
 * as `truncate_insert` loads a truncated one: under an ACCESS EXCLUSIVE lock, the indexes that can be built
 * again exactly are dropped, the staged rows inserted into the bare heap, and the indexes built by one sort
 * each, in the apply transaction: several times faster than INSERT ... ON CONFLICT, or a plain INSERT
 * maintaining the indexes row by row (see "What makes it fast" in docs/performance.md).
 *
 * Only where nothing could tell the difference from the strategy's own statements: a plain table the role
 * owns, without children, rules, row-level security or triggers of its own (the foreign keys' internal
 * triggers fire for inserted rows either way). Readers of the empty table wait for the load to commit.
 */
import type pg from 'pg';
import { query, type Db } from '../db/index.ts';
import type { TaskLogger } from '../log.ts';
import { insertAllSql, lockExclusiveSql } from '../sql/load.ts';
import { qualified, type TableName } from '../sql/quote.ts';
import type { ColumnSpec } from '../sql/types.ts';
import { readDeferrableIndexes, readEmptyLoadEligible } from './catalog/index.ts';
import { deferredLoadStatements } from './deferred-indexes.ts';
import { printStatements, SILENT_LOG } from './strategies/statements.ts';
import type { Step, StrategyResult } from './strategies/types.ts';

const WHAT = 'loading the empty target';

/** Whether the target may be loaded as an empty table and holds no rows now (a hint, until its lock is held). */
export async function emptyTargetHint(db: Db, target: TableName): Promise<boolean> {
  return (await readEmptyLoadEligible(db, target)) && (await isEmpty(db, target));
}

async function isEmpty(db: Db, target: TableName): Promise<boolean> {
  const result = await query<{ empty: boolean }>(db, `SELECT NOT EXISTS (SELECT 1 FROM ONLY ${qualified(target)}) AS empty`, WHAT);
  return result.rows[0]?.empty === true;
}

/** What {@link emptyTargetStatements} loads. */
export interface EmptyTargetContext {
  readonly db: Db;
  readonly target: TableName;
  readonly staging: TableName;
  readonly columns: readonly ColumnSpec[];
  /** Undefined when describing. */
  readonly stagedRows: number | undefined;
  readonly log: TaskLogger;
  readonly describing: boolean;
}

/**
 * When the target is eligible and empty: lock it, make sure it is still empty, and load every staged row with its
 * indexes built after the load. Returns undefined when the strategy's own statements must run (the lock, if
 * taken, is kept to the end of the transaction). Describing, it prints what a run does while the target holds
 * no rows (read outside the lock the run takes; the run reads again under it).
 */
export async function* emptyTargetStatements(ctx: EmptyTargetContext): AsyncGenerator<Step, StrategyResult | undefined, pg.QueryResult | undefined> {
  const { db, target } = ctx;
  if (ctx.stagedRows === 0 || !(await emptyTargetHint(db, target))) return undefined;
  if (ctx.describing) {
    yield {
      note: '-- the target holds no rows now: if it still holds none under the lock, the run inserts every staged row and builds the indexes after the load\n',
    };
  }
  yield { sql: lockExclusiveSql(target), what: `${WHAT}: locking it` };
  // Again under the lock: a row committed, or a trigger created, while the run waited for it.
  if (!ctx.describing && !(await emptyTargetHint(db, target))) return undefined;
  const deferred = await readDeferrableIndexes(db, target);
  if (!ctx.describing) {
    ctx.log.info('the target holds no rows: inserting every staged row and building its indexes after the load', { indexes: deferred.map((i) => i.name) });
  }
  const inserted = yield* deferredLoadStatements(target, insertAllSql(target, ctx.staging, ctx.columns), deferred);
  return { rowsInserted: inserted, rowsDeleted: 0 };
}

/** What `pgferry plan` prints for an empty target, or undefined when the run would take the strategy's statements. */
export async function describeEmptyTarget(db: Db, target: TableName, staging: TableName, columns: readonly ColumnSpec[]): Promise<string[] | undefined> {
  if (!(await emptyTargetHint(db, target))) return undefined;
  return printStatements(emptyTargetStatements({ db, target, staging, columns, stagedRows: undefined, log: SILENT_LOG, describing: true }));
}

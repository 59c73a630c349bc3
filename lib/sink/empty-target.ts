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
import { query, type Db } from '../db/index.ts';
import type { TaskLogger } from '../log.ts';
import { deferredLoadSql } from '../sql/deferred-indexes.ts';
import { insertAllSql, lockExclusiveSql } from '../sql/load.ts';
import { qualified, type TableName } from '../sql/quote.ts';
import type { ColumnSpec } from '../sql/types.ts';
import { readDeferrableIndexes, readEmptyLoadEligible } from './catalog/index.ts';
import { insertWithDeferredIndexes } from './deferred-indexes.ts';
import type { StrategyResult } from './strategies/types.ts';

const WHAT = 'loading the empty target';

/** Whether the target may be loaded as an empty table and holds no rows now (a hint, until its lock is held). */
export async function emptyTargetHint(db: Db, target: TableName): Promise<boolean> {
  return (await readEmptyLoadEligible(db, target)) && (await isEmpty(db, target));
}

async function isEmpty(db: Db, target: TableName): Promise<boolean> {
  const result = await query<{ empty: boolean }>(db, `SELECT NOT EXISTS (SELECT 1 FROM ONLY ${qualified(target)}) AS empty`, WHAT);
  return result.rows[0]?.empty === true;
}

/**
 * Inside the apply transaction: when the target is eligible and empty, locks it, makes sure it is still
 * empty, and loads every staged row with its indexes built after the load. Undefined when the strategy's
 * own statements must run (the lock, if taken, is kept to the end of the transaction).
 */
export async function loadEmptyTarget(ctx: {
  db: Db;
  target: TableName;
  staging: TableName;
  columns: readonly ColumnSpec[];
  stagedRows: number;
  log: TaskLogger;
}): Promise<StrategyResult | undefined> {
  const { db, target } = ctx;
  if (ctx.stagedRows === 0 || !(await emptyTargetHint(db, target))) return undefined;
  await query(db, lockExclusiveSql(target), `${WHAT}: locking it`);
  // Again under the lock: a row committed, or a trigger created, while the run waited for it.
  if (!(await emptyTargetHint(db, target))) return undefined;
  const deferred = await readDeferrableIndexes(db, target);
  ctx.log.info('the target holds no rows: inserting every staged row and building its indexes after the load', { indexes: deferred.map((i) => i.name) });
  const inserted = await insertWithDeferredIndexes(db, target, insertAllSql(target, ctx.staging, ctx.columns), deferred);
  return { rowsInserted: inserted, rowsDeleted: 0 };
}

/** What `pgferry plan` prints for an empty target, or undefined when the run would take the strategy's statements. */
export async function describeEmptyTarget(db: Db, target: TableName, staging: TableName, columns: readonly ColumnSpec[]): Promise<string[] | undefined> {
  if (!(await emptyTargetHint(db, target))) return undefined;
  // Read outside the lock the run takes; the run reads again under it.
  const { before, after } = deferredLoadSql(target, await readDeferrableIndexes(db, target));
  return [
    '-- the target holds no rows now: if it still holds none under the lock, the run inserts every staged row and builds the indexes after the load\n',
    lockExclusiveSql(target),
    ...before,
    insertAllSql(target, staging, columns),
    ...after,
  ];
}

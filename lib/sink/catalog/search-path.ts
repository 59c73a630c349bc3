/** The `search_path = pg_catalog` under which catalog reads print definitions, so the text names the same objects wherever it is executed. */
import { inTransaction, query, transaction, type Db } from '../../db/index.ts';

const WHAT = 'reading the target catalog';

/**
 * Runs `work` with `search_path = pg_catalog` and leaves the session's setting as it was: inside the caller's
 * transaction in a savepoint that is rolled back to (which undoes the SET LOCAL), otherwise in a transaction
 * of its own (which also gives every query the same snapshot).
 */
export async function withCatalogSearchPath<T>(db: Db, work: () => Promise<T>): Promise<T> {
  if (!inTransaction(db)) {
    return transaction(
      db,
      async () => {
        await query(db, 'SET LOCAL search_path = pg_catalog', WHAT);
        return work();
      },
      WHAT,
    );
  }
  await query(db, 'SAVEPOINT pgferry_catalog', WHAT);
  let result: T;
  try {
    await query(db, 'SET LOCAL search_path = pg_catalog', WHAT);
    result = await work();
  } catch (error) {
    // Also leaves the caller's transaction usable again; the original error is the one worth reporting.
    await db
      .query('ROLLBACK TO SAVEPOINT pgferry_catalog')
      .then(() => db.query('RELEASE SAVEPOINT pgferry_catalog'))
      .catch(() => undefined);
    throw error;
  }
  await query(db, 'ROLLBACK TO SAVEPOINT pgferry_catalog', WHAT);
  await query(db, 'RELEASE SAVEPOINT pgferry_catalog', WHAT);
  return result;
}

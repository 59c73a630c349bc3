/** `incremental_merge` / `upsert`: INSERT ... ON CONFLICT (key) DO UPDATE; rowsInserted counts inserted and updated rows. */
import { identList, qualified } from '../../sql/quote.ts';
import { upsertSql } from '../../sql/merge.ts';
import { UnsafeTargetError } from '../../errors.ts';
import { readHasUniqueIndexOn } from '../catalog/index.ts';
import { duplicatePolicy, newOrEmptyTargetStatements, rows, uniqueKey } from './shared.ts';
import { defineStrategy } from './statements.ts';

export const upsert = defineStrategy({
  label: () => ({ mode: 'incremental_merge', strategy: 'upsert' }),
  selects: (s) => s.mode === 'incremental_merge' && s.merge_policy === 'upsert',
  needs: () => ['SELECT', 'INSERT', 'UPDATE'],
  keys: uniqueKey,
  duplicates: duplicatePolicy,
  /** Refuses upsert into an existing target without a unique index on exactly the key columns. */
  async check(db, config, plan) {
    const keys = uniqueKey(config) ?? [];
    if (!plan.targetExists) return;
    if (!(await readHasUniqueIndexOn(db, config.sink.table, keys))) {
      throw new UnsafeTargetError(
        `merge_policy upsert needs a unique index on (${identList(keys)}) of ${qualified(config.sink.table)}; create one (CREATE UNIQUE INDEX ON ${qualified(config.sink.table)} (${identList(keys)})) or use merge_policy: delete_insert`,
      );
    }
  },
  // INSERT ... SELECT scans staging; ON CONFLICT looks each key up in the target's unique index.
  needsStagingStatistics: () => false,
  async *statements(ctx) {
    const keys = uniqueKey(ctx.config) ?? [];
    const loaded = yield* newOrEmptyTargetStatements(ctx, keys);
    if (loaded) return loaded;
    const result = yield { sql: upsertSql(ctx.config.sink.table, ctx.staging, ctx.plan.columns, keys), what: 'upserting staged rows' };
    return { rowsInserted: rows(result), rowsDeleted: 0 };
  },
});

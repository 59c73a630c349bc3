/** `replace`: the strategy's custom_predicate runs inside the apply transaction, so an empty extract empties the slice. */
import { InternalError } from '../../errors.ts';
import { createTableSql } from '../../sql/ddl.ts';
import { replaceSql } from '../../sql/merge.ts';
import { readTableExists } from '../catalog/index.ts';
import { rows } from './shared.ts';
import { defineStrategy } from './statements.ts';

export const replace = defineStrategy({
  label: () => ({ mode: 'replace', strategy: 'replace' }),
  selects: (s) => s.mode === 'replace',
  needs: () => ['SELECT', 'INSERT', 'DELETE'],
  targetCondition: (config) =>
    config.sink.strategy.mode === 'replace' ? { key: 'sink.strategy.custom_predicate', sql: config.sink.strategy.custom_predicate } : undefined,
  async *statements({ db, config, plan, staging }) {
    const s = config.sink.strategy;
    if (s.mode !== 'replace') throw new InternalError('replace strategy called for another mode');
    // The predicate runs against the target even when it was just created or is empty, so a bad one fails the first run.
    if (!(await readTableExists(db, config.sink.table))) yield { sql: createTableSql(config.sink.table, plan.columns), what: 'creating the target' };
    const [del, ins] = replaceSql(config.sink.table, staging, plan.columns, s.custom_predicate);
    const deleted = yield { sql: del ?? '', what: 'deleting the replaced slice' };
    const inserted = yield { sql: ins ?? '', what: 'inserting staged rows' };
    return { rowsInserted: rows(inserted), rowsDeleted: rows(deleted) };
  },
});

/** Creates the state schema and its tables the first time a pipeline runs against a state database. */
import { query, transaction, execute, type Db } from '../db/index.ts';
import { stateReadySql, stateSchemaSql } from './schema-sql.ts';

/**
 * Creates the state schema and tables if missing. Once they all exist their DDL is not run again: even with
 * IF NOT EXISTS, CREATE SCHEMA needs CREATE on the database and CREATE INDEX the table's ownership, which a
 * role granted only USAGE on the schema and privileges on the tables does not have.
 */
export async function ensureStateSchema(db: Db, schema: string): Promise<void> {
  const found = (await query<{ schema: boolean; ready: boolean }>(db, stateReadySql(schema), 'looking for the state schema')).rows[0];
  if (found?.ready) return;
  await transaction(db, () => execute(db, stateSchemaSql(schema, { createSchema: !found?.schema }), 'creating the state schema'), 'creating the state schema');
}

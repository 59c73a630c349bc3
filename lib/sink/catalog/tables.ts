/** Catalog reads of tables and schemas: whether they exist, a table's columns, what the empty-target load and staging cleanup look for. */
import { query, type Db } from '../../db/index.ts';
import { stagingCommentPrefix } from '../../sql/ddl.ts';
import { qualified, type TableName } from '../../sql/quote.ts';
import type { ColumnSpec } from '../../sql/types.ts';

/** A target column: name, type (schema-qualified as `format_type()` prints it), NOT NULL. */
export interface TargetColumn extends ColumnSpec {
  readonly notNull: boolean;
}

/** Columns of an existing table, or undefined when it is missing; types as `format_type()` prints them under the session's search_path. */
export async function readTableColumns(db: Db, table: TableName): Promise<TargetColumn[] | undefined> {
  const exists = await query<{ oid: string | null }>(
    db,
    { text: 'SELECT to_regclass($1)::oid::int8 AS oid', values: [qualified(table)] },
    'describing the target',
  );
  const oid = exists.rows[0]?.oid;
  if (oid === null || oid === undefined) return undefined;
  const result = await query<{ name: string; type: string; notNull: boolean }>(
    db,
    {
      text: `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS "notNull" FROM pg_attribute
WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      values: [oid],
    },
    'describing the target',
  );
  return result.rows;
}

/** Whether a table exists (to_regclass of its qualified name; usable inside a transaction). */
export async function readTableExists(db: Db, table: TableName): Promise<boolean> {
  const result = await query<{ exists: boolean }>(
    db,
    { text: 'SELECT to_regclass($1) IS NOT NULL AS exists', values: [qualified(table)] },
    'looking up the target',
  );
  return result.rows[0]?.exists ?? false;
}

/** Whether a relation of any kind is named `table` (by schema and name in pg_class): what exchange reads before its guard lock. */
export async function readRelationExists(db: Db, table: TableName): Promise<boolean> {
  const exists = await query(
    db,
    {
      text: 'SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
      values: [table.schema, table.name],
    },
    `exchanging ${qualified(table)}`,
  );
  return (exists.rowCount ?? 0) > 0;
}

/** Whether the target may be loaded as an empty table: a plain table the role owns, without children, rules, row-level security or triggers of its own. */
export async function readEmptyLoadEligible(db: Db, target: TableName): Promise<boolean> {
  const facts = await query<{ eligible: boolean }>(
    db,
    {
      text: `SELECT c.relkind = 'r' AND NOT c.relispartition AND NOT c.relhassubclass AND NOT c.relhasrules AND NOT c.relrowsecurity
  AND pg_catalog.pg_has_role(c.relowner, 'USAGE')
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS eligible
FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)`,
      values: [qualified(target)],
    },
    'loading the empty target',
  );
  return facts.rows[0]?.eligible === true;
}

/** Whether the schema exists (staging then leaves out CREATE SCHEMA, which needs CREATE on the database). */
export async function readSchemaExists(db: Db, schema: string): Promise<boolean> {
  const found = await query<{ exists: boolean }>(
    db,
    { text: 'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists', values: [schema] },
    'looking for the staging schema',
  );
  return found.rows[0]?.exists ?? false;
}

/** Names of the staging tables in `schema` that runs of `pipeline` other than `keepRunId` left (found by their comment). */
export async function readLeftoverStaging(db: Db, schema: string, pipeline: string, keepRunId: string): Promise<string[]> {
  const result = await query<{ name: string }>(
    db,
    {
      text: `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND starts_with(obj_description(c.oid, 'pg_class'), $2)
  AND obj_description(c.oid, 'pg_class') <> $3`,
      values: [schema, stagingCommentPrefix(pipeline), stagingCommentPrefix(pipeline) + keepRunId],
    },
    'looking for leftover staging tables',
  );
  return result.rows.map((r) => r.name);
}

/**
 * Read-only catalog lookups of `pgferry check`. Names are looked up in pg_namespace / pg_class by value (never
 * parsed as SQL), and privileges are asked of `has_*_privilege` by OID, so any name works.
 */
import { query, type Db } from '../db/index.ts';
import type { TableName } from '../sql/quote.ts';
import type { ConnectionHealth } from './types.ts';

const ROUND_TRIPS = 3;

/** Latency (median of three `SELECT 1`), version, database size, table count and cache hit ratio. */
export async function probeHealth(db: Db): Promise<Omit<ConnectionHealth, 'connection' | 'ok'>> {
  const times: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i += 1) {
    const started = performance.now();
    await query(db, 'SELECT 1', 'measuring latency');
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const result = await query<{ version: string; num: number; user: string; database: string; size: string; tables: number; ratio: number | null }>(
    db,
    `SELECT
  current_setting('server_version') AS version,
  current_setting('server_version_num')::int AS num,
  current_user::text AS "user",
  current_database()::text AS database,
  pg_database_size(current_database())::text AS size,
  (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%') AS tables,
  (SELECT blks_hit::float8 / nullif(blks_hit + blks_read, 0) FROM pg_stat_database WHERE datname = current_database()) AS ratio`,
    'reading server statistics',
  );
  const row = result.rows[0];
  return {
    latencyMs: Math.round((times[Math.floor(ROUND_TRIPS / 2)] ?? 0) * 100) / 100,
    ...(row
      ? {
          serverVersion: row.version,
          serverVersionNum: row.num,
          user: row.user,
          database: row.database,
          databaseSizeBytes: Number(row.size),
          tableCount: row.tables,
          cacheHitRatio: row.ratio === null ? null : Math.round(row.ratio * 10_000) / 10_000,
        }
      : {}),
  };
}

/** The session's database and the role's privileges on it. */
export async function databasePrivileges(db: Db): Promise<{ name: string; connect: boolean; create: boolean }> {
  const result = await query<{ name: string; connect: boolean; create: boolean }>(
    db,
    `SELECT current_database()::text AS name,
  has_database_privilege(current_database(), 'CONNECT') AS connect, has_database_privilege(current_database(), 'CREATE') AS create`,
    'reading database privileges',
  );
  return result.rows[0] ?? { name: '?', connect: false, create: false };
}

/** A schema and the role's privileges on it; `exists: false` when there is no such schema. */
export type SchemaInfo = {
  readonly exists: boolean;
  readonly usage: boolean;
  readonly create: boolean;
};

/** Looks a schema up by name. */
export async function schemaInfo(db: Db, schema: string): Promise<SchemaInfo> {
  const result = await query<SchemaInfo>(
    db,
    {
      text: `SELECT true AS exists, has_schema_privilege(n.oid, 'USAGE') AS usage, has_schema_privilege(n.oid, 'CREATE') AS create FROM pg_namespace n WHERE n.nspname = $1`,
      values: [schema],
    },
    'reading schema privileges',
  );
  return result.rows[0] ?? { exists: false, usage: false, create: false };
}

/** Whether a relation (table, index...) of that name exists in the schema. */
export async function relationExists(db: Db, schema: string, name: string): Promise<boolean> {
  const result = await query(
    db,
    {
      text: 'SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
      values: [schema, name],
    },
    'looking up a relation',
  );
  return (result.rowCount ?? 0) > 0;
}

/** Table privileges pgferry may need. */
export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';

/** A table (or partitioned table, view...) as the catalog has it, with the role's privileges on it. */
export interface TableInfo {
  readonly oid: string;
  /** `pg_class.relkind`: `r` table, `p` partitioned table, `v` view... */
  readonly relkind: string;
  readonly owner: string;
  /** The role may act as the owner: it has the owner's privileges (inherits them) and is a member of it (and, on 16+, may SET ROLE to it). */
  readonly owns: boolean;
  readonly sizeBytes: number;
  /** null when never analyzed. */
  readonly estimatedRows: number | null;
  readonly privileges: Readonly<Record<TablePrivilege, boolean>>;
}

/** Looks a table up by schema and name; undefined when it does not exist. Sizes and estimates are summed over partitions. */
export async function tableInfo(db: Db, table: TableName, serverVersionNum: number): Promise<TableInfo | undefined> {
  // pg_has_role(..., 'SET') exists from PostgreSQL 16, where ALTER ... OWNER TO needs it.
  const canSet = serverVersionNum >= 160000 ? ` AND pg_has_role(c.relowner, 'SET')` : '';
  const result = await query<
    { oid: string; relkind: string; owner: string; owns: boolean; size: string; rows: number | null } & Record<Lowercase<TablePrivilege>, boolean>
  >(
    db,
    {
      text: `SELECT c.oid::int8::text AS oid, c.relkind::text AS relkind, pg_get_userbyid(c.relowner)::text AS owner,
  pg_has_role(c.relowner, 'USAGE') AND pg_has_role(c.relowner, 'MEMBER')${canSet} AS owns,
  CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t)
       ELSE pg_total_relation_size(c.oid) END::text AS size,
  CASE WHEN c.relkind = 'p' THEN (SELECT sum(p.reltuples) FILTER (WHERE p.reltuples >= 0) FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid WHERE t.isleaf)
       WHEN c.reltuples >= 0 THEN c.reltuples END::float8 AS rows,
  has_table_privilege(c.oid, 'SELECT') AS select, has_table_privilege(c.oid, 'INSERT') AS insert, has_table_privilege(c.oid, 'UPDATE') AS update,
  has_table_privilege(c.oid, 'DELETE') AS delete, has_table_privilege(c.oid, 'TRUNCATE') AS truncate
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      values: [table.schema, table.name],
    },
    'reading table privileges',
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    oid: row.oid,
    relkind: row.relkind,
    owner: row.owner,
    owns: row.owns,
    sizeBytes: Number(row.size),
    estimatedRows: row.rows === null ? null : Number(row.rows),
    privileges: { SELECT: row.select, INSERT: row.insert, UPDATE: row.update, DELETE: row.delete, TRUNCATE: row.truncate },
  };
}

/** Whether a column exists, whether it leads a valid, non-partial index, and whether the role may SELECT it. */
export async function columnInfo(db: Db, oid: string, column: string): Promise<{ exists: boolean; indexed: boolean; select: boolean }> {
  const result = await query<{ indexed: boolean; select: boolean }>(
    db,
    {
      text: `SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indkey[0] = a.attnum AND i.indisvalid AND i.indpred IS NULL) AS indexed,
  has_column_privilege(a.attrelid, a.attnum, 'SELECT') AS select
FROM pg_attribute a WHERE a.attrelid = $1::int8::oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
      values: [oid, column],
    },
    'reading column information',
  );
  const row = result.rows[0];
  return row ? { exists: true, indexed: row.indexed, select: row.select } : { exists: false, indexed: false, select: false };
}

/** The planner's row estimate of a SELECT (`EXPLAIN (FORMAT JSON)`; nothing is executed). */
export async function planRows(db: Db, select: string): Promise<number> {
  const result = await query<{ 'QUERY PLAN': { Plan?: { 'Plan Rows'?: number } }[] }>(db, `EXPLAIN (FORMAT JSON) ${select}`, 'planning the extraction');
  return Number(result.rows[0]?.['QUERY PLAN'][0]?.Plan?.['Plan Rows'] ?? 0);
}

/** DDL text for staging and target tables. Pure functions. */
import type { ColumnSpec, StagedNotNull } from './types.ts';
import { ident, literal, qualified, type TableName } from './quote.ts';

/** `CREATE [UNLOGGED] TABLE t ("a" type [CONSTRAINT "n"] [NOT NULL], ...)`. */
export function createTableSql(
  table: TableName,
  columns: readonly ColumnSpec[],
  options: { unlogged?: boolean; notNull?: readonly StagedNotNull[] } = {},
): string {
  const notNull = new Map((options.notNull ?? []).map((n) => [n.column, n]));
  const cols = columns
    .map((c) => {
      const n = notNull.get(c.name);
      const constraint = n === undefined ? '' : `${n.name === undefined ? '' : ` CONSTRAINT ${ident(n.name)}`} NOT NULL`;
      return `${ident(c.name)} ${c.type}${constraint}`;
    })
    .join(', ');
  return `CREATE ${options.unlogged ? 'UNLOGGED ' : ''}TABLE ${qualified(table)} (${cols})`;
}

/** Prefix of the comment that marks a staging table, so a later run of the pipeline can find leftovers. */
export function stagingCommentPrefix(pipeline: string): string {
  return `pgferry staging: pipeline=${pipeline} run=`;
}

/**
 * Staging DDL of one run: the staging table and its table of extracted chunks, both with the same
 * persistence, so a server crash empties both together and apply notices the missing chunks.
 */
export function createStagingSql(
  staging: TableName,
  done: TableName,
  columns: readonly ColumnSpec[],
  options: { pipeline: string; runId: string; logged: boolean; schemaExists?: boolean; notNull?: readonly StagedNotNull[] },
): string[] {
  const unlogged = !options.logged;
  return [
    // Even with IF NOT EXISTS, CREATE SCHEMA needs CREATE on the database: left out when the schema exists.
    // Concurrent first runs of two pipelines would race on it (23505 on pg_namespace) without the lock.
    ...(options.schemaExists === true
      ? []
      : [`SELECT pg_advisory_xact_lock(hashtext(${literal(`pgferry staging ${staging.schema}`)}))`, `CREATE SCHEMA IF NOT EXISTS ${ident(staging.schema)}`]),
    `DROP TABLE IF EXISTS ${qualified(staging)}`,
    `DROP TABLE IF EXISTS ${qualified(done)}`,
    // Autovacuum on a table that lives for one run only gets in the way (a TRUNCATE waits for it to yield its lock);
    // logged staging becomes the target (exchange) and must keep the default.
    `${createTableSql(staging, columns, { unlogged, notNull: options.notNull ?? [] })}${unlogged ? ' WITH (autovacuum_enabled = off)' : ''}`,
    `CREATE ${unlogged ? 'UNLOGGED ' : ''}TABLE ${qualified(done)} (chunk integer PRIMARY KEY, rows bigint NOT NULL, bytes bigint NOT NULL)`,
    `COMMENT ON TABLE ${qualified(staging)} IS ${literal(stagingCommentPrefix(options.pipeline) + options.runId)}`,
    `COMMENT ON TABLE ${qualified(done)} IS ${literal(stagingCommentPrefix(options.pipeline) + options.runId)}`,
  ];
}

/** Drops a run's staging tables. */
export function dropStagingSql(staging: TableName, done: TableName): string[] {
  return [`DROP TABLE IF EXISTS ${qualified(staging)}`, `DROP TABLE IF EXISTS ${qualified(done)}`];
}

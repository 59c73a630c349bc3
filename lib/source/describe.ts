/** Reads what the source will produce: columns with their types, the chunk column, a row estimate. */
import { query, transaction, type Db } from '../db/index.ts';
import { DatabaseError } from '../errors.ts';
import { ident, qualified, type TableName } from '../sql/quote.ts';
import { sourceSelect, type SourceRef } from '../sql/extract.ts';
import type { ColumnSpec } from '../sql/types.ts';

/** What {@link describeSource} found. */
export interface SourceDescription {
  readonly columns: readonly ColumnSpec[];
  /** The column chunks split on by default (see defaultChunkColumn): the single-column primary key, or an index's leading column. */
  readonly primaryKey?: ColumnSpec;
  /** Why that column: `the primary key`, `the leading column of unique index "x"`. */
  readonly chunkColumnWhy?: string;
  /** Planner's row estimate of a table source (`reltuples`), or undefined when unknown. */
  readonly estimatedRows?: number;
  /**
   * Bytes per row of a table source as stored (its size with TOAST over its estimated rows; of a partitioned
   * table, over its partitions), or undefined when unknown (a view, a table never analyzed).
   */
  readonly rowBytes?: number;
}

/**
 * Describes the source's output columns. Type names are printed with `search_path = pg_catalog`, so every
 * non-built-in type comes out schema-qualified and means the same type on the target.
 */
export async function describeSource(db: Db, source: SourceRef, columns: readonly string[] | undefined): Promise<SourceDescription> {
  let relation: Relation | undefined;
  if (source.table) relation = await findTable(db, source.table);
  const probe = await query(db, `${sourceSelect(source, columns ?? '*')} LIMIT 0`, 'describing the source');
  const names = probe.fields.map((f) => f.name);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) {
    throw new DatabaseError(`source returns column ${JSON.stringify(repeated)} more than once; give each column a distinct name`);
  }
  const types = await formatTypes(
    db,
    probe.fields.map((f) => [f.dataTypeID, f.dataTypeModifier]),
  );
  let described = probe.fields.map((f, i) => ({ name: f.name, type: types[i] ?? 'text' }));
  if (!relation) return { columns: described };
  // A result set reports a domain as its base type; the table's own columns keep the domain (and its CHECK).
  const declared = await tableColumnTypes(db, relation.oid);
  described = described.map((c) => ({ name: c.name, type: declared.get(c.name) ?? c.type }));
  const chunking = await defaultChunkColumn(db, relation.oid);
  return {
    columns: described,
    ...(chunking ? { primaryKey: chunking.column, chunkColumnWhy: chunking.why } : {}),
    ...(relation.reltuples >= 0 ? { estimatedRows: relation.reltuples } : {}),
    ...(relation.rowBytes !== null && relation.rowBytes > 0 ? { rowBytes: relation.rowBytes } : {}),
  };
}

/** Type of a column of a table source (which may not be among the extracted columns). */
export async function tableColumnType(db: Db, table: TableName, column: string): Promise<ColumnSpec | undefined> {
  return transaction(db, async () => {
    await query(db, 'SET LOCAL search_path = pg_catalog', 'describing the source');
    const result = await query<{ type: string }>(
      db,
      {
        text: `SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
        values: [qualified(table), column],
      },
      'describing the source',
    );
    const row = result.rows[0];
    return row ? { name: column, type: row.type } : undefined;
  });
}

async function tableColumnTypes(db: Db, oid: number): Promise<Map<string, string>> {
  return transaction(db, async () => {
    await query(db, 'SET LOCAL search_path = pg_catalog', 'describing the source');
    const result = await query<{ name: string; type: string }>(
      db,
      {
        text: `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped`,
        values: [oid],
      },
      'describing the source',
    );
    return new Map(result.rows.map((r) => [r.name, r.type]));
  });
}

interface Relation {
  readonly oid: number;
  readonly reltuples: number;
  readonly rowBytes: number | null;
}

// pg_partition_tree lists nothing for a table outside any partition tree; its own size and estimate serve.
const FIND_TABLE = `SELECT c.oid::int8 AS oid, c.reltuples::float8 AS reltuples,
  CASE WHEN c.relkind = 'p' THEN (SELECT sum(pg_catalog.pg_table_size(l.oid))::float8 / NULLIF(sum(GREATEST(l.reltuples, 0)), 0)
      FROM pg_catalog.pg_partition_tree(c.oid) p JOIN pg_catalog.pg_class l ON l.oid = p.relid WHERE p.isleaf)
    WHEN c.reltuples > 0 THEN pg_catalog.pg_table_size(c.oid)::float8 / c.reltuples END AS row_bytes
FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)`;

async function findTable(db: Db, table: TableName): Promise<Relation> {
  const result = await query<{ oid: number; reltuples: number; row_bytes: number | null }>(
    db,
    { text: FIND_TABLE, values: [qualified(table)] },
    'looking up the source table',
  );
  const row = result.rows[0];
  if (!row) throw new DatabaseError(`source table ${qualified(table)} does not exist`, '42P01');
  return { oid: Number(row.oid), reltuples: Number(row.reltuples), rowBytes: row.row_bytes === null ? null : Number(row.row_bytes) };
}

async function formatTypes(db: Db, types: readonly (readonly [number, number])[]): Promise<string[]> {
  if (types.length === 0) return [];
  return transaction(db, async () => {
    await query(db, 'SET LOCAL search_path = pg_catalog', 'describing the source');
    const result = await query<{ type: string }>(
      db,
      {
        text: `SELECT format_type(t.oid, t.typmod) AS type FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS t(oid, typmod, n) ORDER BY n`,
        values: [types.map((t) => t[0]), types.map((t) => t[1])],
      },
      'describing the source',
    );
    return result.rows.map((r) => r.type);
  });
}

/**
 * The column chunks split on when the file names none: the single-column primary key; else the leading column of
 * a unique index, then of any btree index (valid, without a predicate, on a column rather than an expression),
 * NOT NULL columns first. Undefined when no index orders the table: it runs as one chunk.
 */
export async function defaultChunkColumn(db: Db, oid: number | string): Promise<{ column: ColumnSpec; why: string } | undefined> {
  return transaction(db, async () => {
    await query(db, 'SET LOCAL search_path = pg_catalog', 'describing the source');
    const result = await query<{ name: string; type: string; primary: boolean; unique: boolean; index: string }>(
      db,
      {
        text: `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, i.indisprimary AND i.indnkeyatts = 1 AS primary,
  i.indisunique AS unique, ic.relname AS index
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = $1::oid AND i.indkey[0] <> 0 AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree'
ORDER BY i.indisprimary AND i.indnkeyatts = 1 DESC, i.indisunique DESC, a.attnotnull DESC, i.indnkeyatts, ic.relname
LIMIT 1`,
        values: [oid],
      },
      'describing the source',
    );
    const row = result.rows[0];
    if (!row) return undefined;
    const why = row.primary ? 'the primary key' : `the leading column of ${row.unique ? 'unique ' : ''}index ${ident(row.index)}`;
    return { column: { name: row.name, type: row.type }, why };
  });
}

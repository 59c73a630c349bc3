/**
 * The bench's table: orders-like rows of ~200 bytes (bigint key, bigint, short text, numeric(12,2), char(3),
 * 40-char text, small jsonb, two timestamptz) with an index on the cursor column, generated in SQL.
 */

/** Columns in table order: name and type. */
export const COLUMNS: readonly (readonly [string, string])[] = [
  ['id', 'bigint NOT NULL'],
  ['customer_id', 'bigint NOT NULL'],
  ['status', 'text NOT NULL'],
  ['amount', 'numeric(12,2) NOT NULL'],
  ['currency', 'char(3) NOT NULL'],
  ['note', 'text'],
  ['attributes', 'jsonb'],
  ['created_at', 'timestamptz NOT NULL'],
  ['updated_at', 'timestamptz NOT NULL'],
];

/** `id, customer_id, ...` */
export const COLUMN_LIST = COLUMNS.map(([name]) => name).join(', ');

/** CREATE TABLE without indexes (they are built after the rows, as a DBA would load it). */
function createTable(table: string, unlogged = false): string {
  return `CREATE ${unlogged ? 'UNLOGGED ' : ''}TABLE ${table} (${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`;
}

/** The primary key and the one secondary index (the cursor column), on a source or a target alike. */
export function indexSql(table: string): string[] {
  const bare = table.split('.').pop() ?? table;
  return [`ALTER TABLE ${table} ADD CONSTRAINT ${bare}_pkey PRIMARY KEY (id)`, `CREATE INDEX ${bare}_updated_at ON ${table} (updated_at)`];
}

/** The source table of `rows` rows; VACUUM FREEZE so no timed scan pays for hint bits or visibility. */
export function seedSql(table: string, rows: number): string[] {
  return [
    createTable(table),
    `INSERT INTO ${table}
SELECT g,
  (g * 7919) % 1000003,
  (ARRAY['new','paid','shipped','cancelled','refunded'])[1 + g % 5],
  ((g * 104729) % 100000000) / 100.0,
  (ARRAY['EUR','USD','GBP','CHF'])[1 + g % 4],
  CASE WHEN g % 20 = 0 THEN NULL ELSE md5(g::text) || left(md5((g + 1)::text), 8) END,
  jsonb_build_object('channel', (ARRAY['web','app','store'])[1 + g % 3], 'items', 1 + g % 7, 'gift', g % 11 = 0, 'sku', 'SKU-' || lpad((g % 100000)::text, 6, '0')),
  timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second',
  timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' + (g % 3600) * interval '1 millisecond'
FROM generate_series(1::bigint, ${Math.floor(rows)}) AS g`,
    ...indexSql(table),
    `VACUUM (FREEZE, ANALYZE) ${table}`,
  ];
}

/** A copy of the first `rows` rows of `from`, indexed like it. */
export function subsetSql(table: string, from: string, rows: number): string[] {
  return [createTable(table), `INSERT INTO ${table} SELECT * FROM ${from} WHERE id <= ${Math.floor(rows)}`, ...indexSql(table), `VACUUM (FREEZE, ANALYZE) ${table}`];
}

/** An empty target: logged, with the primary key and the one index (what the pipe writes into). */
export function targetSql(table: string): string[] {
  return [`DROP TABLE IF EXISTS ${table}`, createTable(table), ...indexSql(table)];
}

/**
 * Changes every `modulus`-th row (`id % modulus = residue`): new values and an updated_at above every
 * existing one. Each row gets its own timestamp (base + id microseconds), so the next window's inclusive
 * lower bound re-reads one row, not all rows that shared the maximum.
 */
export function changeSql(table: string, modulus: number, residue: number): string {
  return `WITH base AS (SELECT max(updated_at) + interval '1 millisecond' AS t FROM ${table})
UPDATE ${table} SET amount = amount + 1, status = 'paid', attributes = attributes || '{"changed": true}',
  updated_at = base.t + id * interval '1 microsecond'
FROM base WHERE id % ${modulus} = ${residue}`;
}

/** Row count and an order-independent checksum of every row's text. */
export function checksumSql(table: string): string {
  return `SELECT count(*)::bigint AS n, coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint::numeric), 0)::text AS checksum FROM ${table} AS t`;
}

/** Average row size (tuple as stored) and the table's size with its indexes, in bytes. */
export function sizeSql(table: string): string {
  return `SELECT (SELECT avg(pg_column_size(t.*)) FROM (SELECT * FROM ${table} LIMIT 100000) AS t)::float8 AS avg_row_bytes,
  pg_table_size('${table}')::float8 AS table_bytes, pg_indexes_size('${table}')::float8 AS index_bytes`;
}

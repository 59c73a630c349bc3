/**
 * The bench's tables, generated in SQL. Every shape has a bigint key `id` (the primary key) and a timestamptz
 * cursor `updated_at` with an index on it, so every scenario runs on each:
 * - `orders` (default): orders-like rows of ~200 bytes (bigint key, bigint, short text, numeric(12,2), char(3),
 *   40-char text, small jsonb, two timestamptz), the issue's table.
 * - `narrow`: ~50-byte rows (bigint key, int, timestamptz): per-row costs weigh most.
 * - `wide`: ~1.2 kB rows (bigint key, 1 kB of text that pglz cannot shrink, jsonb, int[], timestamptz): bytes weigh most.
 */

/** A table shape: its columns, how its rows are generated and how the bench changes them. */
export interface Shape {
  readonly name: ShapeName;
  readonly description: string;
  /** Columns in table order: name and type. */
  readonly columns: readonly (readonly [string, string])[];
  /** The SELECT list of a row from `g` (bigint, 1..rows), one expression per column in order. */
  readonly generate: string;
  /** The SET list of a change (besides updated_at, which every change sets). */
  readonly change: string;
  /** Bytes a row takes with its entries in the two indexes, about (measured at 500,000 rows); sizes the disk check. */
  readonly bytesPerRow: number;
}

/** Names of the shapes `--table` accepts. */
export type ShapeName = 'orders' | 'narrow' | 'wide';

const UPDATED_AT = `timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' + (g % 3600) * interval '1 millisecond'`;

export const SHAPES: Readonly<Record<ShapeName, Shape>> = {
  orders: {
    name: 'orders',
    description:
      'orders-like rows of ~200 bytes: bigint key, bigint, short text, numeric(12,2), char(3), 40-char text, small jsonb, two timestamptz; index on updated_at',
    columns: [
      ['id', 'bigint NOT NULL'],
      ['customer_id', 'bigint NOT NULL'],
      ['status', 'text NOT NULL'],
      ['amount', 'numeric(12,2) NOT NULL'],
      ['currency', 'char(3) NOT NULL'],
      ['note', 'text'],
      ['attributes', 'jsonb'],
      ['created_at', 'timestamptz NOT NULL'],
      ['updated_at', 'timestamptz NOT NULL'],
    ],
    generate: `g,
  (g * 7919) % 1000003,
  (ARRAY['new','paid','shipped','cancelled','refunded'])[1 + g % 5],
  ((g * 104729) % 100000000) / 100.0,
  (ARRAY['EUR','USD','GBP','CHF'])[1 + g % 4],
  CASE WHEN g % 20 = 0 THEN NULL ELSE md5(g::text) || left(md5((g + 1)::text), 8) END,
  jsonb_build_object('channel', (ARRAY['web','app','store'])[1 + g % 3], 'items', 1 + g % 7, 'gift', g % 11 = 0, 'sku', 'SKU-' || lpad((g % 100000)::text, 6, '0')),
  timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second',
  ${UPDATED_AT}`,
    change: `amount = amount + 1, status = 'paid', attributes = attributes || '{"changed": true}'`,
    bytesPerRow: 250,
  },
  narrow: {
    name: 'narrow',
    description: 'narrow rows of ~50 bytes: bigint key, int, timestamptz; index on updated_at',
    columns: [
      ['id', 'bigint NOT NULL'],
      ['quantity', 'int NOT NULL'],
      ['updated_at', 'timestamptz NOT NULL'],
    ],
    generate: `g, (g * 7919 % 1000)::int, ${UPDATED_AT}`,
    change: 'quantity = quantity + 1',
    bytesPerRow: 100,
  },
  wide: {
    name: 'wide',
    description: 'wide rows of ~1.2 kB: bigint key, 1 kB of hex text, small jsonb, int[], timestamptz; index on updated_at',
    columns: [
      ['id', 'bigint NOT NULL'],
      ['body', 'text NOT NULL'],
      ['attributes', 'jsonb'],
      ['tags', 'int[]'],
      ['updated_at', 'timestamptz NOT NULL'],
    ],
    // 32 md5s of different inputs: hex text that pglz cannot shrink below its threshold, so it stays 1 kB inline.
    generate: `g,
  (SELECT string_agg(md5((g * 32 + i)::text), '') FROM generate_series(1, 32) AS i),
  jsonb_build_object('kind', (ARRAY['a','b','c'])[1 + g % 3], 'n', g % 1000),
  ARRAY[(g % 7)::int, (g % 11)::int, (g % 13)::int],
  ${UPDATED_AT}`,
    change: `body = md5(body) || substr(body, 33), tags = tags || 0`,
    bytesPerRow: 1_300,
  },
};

/** `id, customer_id, ...` */
export function columnList(shape: Shape): string {
  return shape.columns.map(([name]) => name).join(', ');
}

/** CREATE TABLE without indexes (they are built after the rows, as a DBA would load it). */
function createTable(shape: Shape, table: string): string {
  return `CREATE TABLE ${table} (${shape.columns.map(([n, t]) => `${n} ${t}`).join(', ')})`;
}

/** The primary key and the one secondary index (the cursor column), on a source or a target alike. */
export function indexSql(table: string): string[] {
  const bare = table.split('.').pop() ?? table;
  return [`ALTER TABLE ${table} ADD CONSTRAINT ${bare}_pkey PRIMARY KEY (id)`, `CREATE INDEX ${bare}_updated_at ON ${table} (updated_at)`];
}

/** The source table of `rows` rows; VACUUM FREEZE so no timed scan pays for hint bits or visibility. */
export function seedSql(shape: Shape, table: string, rows: number): string[] {
  return [
    createTable(shape, table),
    `INSERT INTO ${table}
SELECT ${shape.generate}
FROM generate_series(1::bigint, ${Math.floor(rows)}) AS g`,
    ...indexSql(table),
    `VACUUM (FREEZE, ANALYZE) ${table}`,
  ];
}

/** A copy of the first `rows` rows of `from`, indexed like it. */
export function subsetSql(shape: Shape, table: string, from: string, rows: number): string[] {
  return [
    createTable(shape, table),
    `INSERT INTO ${table} SELECT * FROM ${from} WHERE id <= ${Math.floor(rows)}`,
    ...indexSql(table),
    `VACUUM (FREEZE, ANALYZE) ${table}`,
  ];
}

/** An empty target: logged, with the primary key and the one index (what the pipe writes into). */
export function targetSql(shape: Shape, table: string): string[] {
  return [`DROP TABLE IF EXISTS ${table}`, createTable(shape, table), ...indexSql(table)];
}

/**
 * Changes every `modulus`-th row (`id % modulus = residue`): new values and an updated_at above every
 * existing one. Each row gets its own timestamp (base + id microseconds), so the next window's inclusive
 * lower bound re-reads one row, not all rows that shared the maximum.
 */
export function changeSql(shape: Shape, table: string, modulus: number, residue: number): string {
  return `WITH base AS (SELECT max(updated_at) + interval '1 millisecond' AS t FROM ${table})
UPDATE ${table} SET ${shape.change},
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

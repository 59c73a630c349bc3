import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ident } from '../../lib/sql/quote.ts';

/** Sorted md5 of every row's text form: equal lists mean equal multisets of rows, json and -0 included. */
export async function rowHashes(db: pg.Client, table: string): Promise<string[]> {
  const result = await db.query<{ h: string }>(`SELECT md5(t::text) AS h FROM ${table} AS t`);
  return result.rows.map((r) => r.h).sort();
}

/** Digest of {@link rowHashes}, for short assertion messages. */
export function digest(hashes: readonly string[]): string {
  return createHash('sha256').update(hashes.join(',')).digest('hex');
}

/** Rows of `a` missing from `b` and of `b` missing from `a` (EXCEPT ALL both ways), comparing `textColumns` as text. */
export async function exceptAllBothWays(
  db: pg.Client,
  a: string,
  b: string,
  columns: readonly string[],
  textColumns: readonly string[] = [],
): Promise<{ missing: number; extra: number }> {
  const list = columns.map((c) => (textColumns.includes(c) ? `${ident(c)}::text` : ident(c))).join(', ');
  const missing = await db.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT ${list} FROM ${a} EXCEPT ALL SELECT ${list} FROM ${b}) x`);
  const extra = await db.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT ${list} FROM ${b} EXCEPT ALL SELECT ${list} FROM ${a}) x`);
  return { missing: Number(missing.rows[0]?.n), extra: Number(extra.rows[0]?.n) };
}

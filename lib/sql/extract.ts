/** SQL text of the extraction: the source SELECT, chunk predicates and the COPY pair. Pure functions. */
import { ConfigError } from '../errors.ts';
import type { ColumnSpec } from './types.ts';
import { ident, identList, qualified, typedLiteral, type TableName } from './quote.ts';

/** The source as the pipeline file gives it: a table or a raw query (documented raw SQL). */
export interface SourceRef {
  readonly table?: TableName;
  readonly query?: string;
}

/** Alias a query source is wrapped in, so outer predicates can name its columns. */
export const QUERY_ALIAS = 'pgferry_source';

/** The FROM item of a source: `"s"."t"` or `(<query>) AS "pgferry_source"`. */
export function sourceFrom(source: SourceRef): string {
  if (source.table) return qualified(source.table);
  if (source.query !== undefined) return `(${source.query}\n) AS ${ident(QUERY_ALIAS)}`;
  throw new ConfigError('source has neither table nor query: give source.table or source.query');
}

/** `SELECT <columns>[, <extra expressions>] FROM <source> WHERE <predicates AND-ed>`; every predicate is parenthesised. */
export function sourceSelect(source: SourceRef, columns: readonly string[] | '*', predicates: readonly string[] = [], extra: readonly string[] = []): string {
  const list = [columns === '*' ? '*' : identList(columns), ...extra].join(', ');
  const where = predicates.length > 0 ? ` WHERE ${predicates.map((p) => `(${p})`).join(' AND ')}` : '';
  return `SELECT ${list} FROM ${sourceFrom(source)}${where}`;
}

/** Bounds of one chunk as text of the chunk column's type; null means open on that side. */
export interface ChunkBounds {
  readonly lower: string | null;
  readonly upper: string | null;
}

/**
 * Predicate of one chunk: `lower <= col < upper`. The first chunk (open below) also takes the NULLs,
 * so the chunks together cover every row exactly once.
 */
export function chunkPredicate(column: ColumnSpec, bounds: ChunkBounds): string | undefined {
  const col = ident(column.name);
  const parts: string[] = [];
  if (bounds.lower !== null) parts.push(`${col} >= ${typedLiteral(bounds.lower, column.type)}`);
  if (bounds.upper !== null) parts.push(`${col} < ${typedLiteral(bounds.upper, column.type)}`);
  if (parts.length === 0) return undefined;
  const range = parts.join(' AND ');
  return bounds.lower === null ? `${col} IS NULL OR ${range}` : range;
}

/** `COPY (<select>) TO STDOUT (FORMAT binary)`. */
export function copyToSql(select: string): string {
  return `COPY (${select}) TO STDOUT (FORMAT binary)`;
}

/** `COPY <table> (<columns>) FROM STDIN (FORMAT binary)`. */
export function copyFromSql(table: TableName, columns: readonly string[]): string {
  return `COPY ${qualified(table)} (${identList(columns)}) FROM STDIN (FORMAT binary)`;
}

/** Which source tables a multi-table file's entries resolve to: one catalog query, then a pure matcher. */
import { formatTableName, matchesTablePattern, patternTable, type TablePattern } from '../config/table-name.ts';
import type { TableRef } from '../config/types.ts';
import { query, type Db } from '../db/index.ts';
import { listSourceTablesSql } from '../sql/tables.ts';

export { listSourceTablesSql };

/** A relation of the source as the catalog query lists it. */
export interface SourceTable {
  readonly schema: string;
  readonly name: string;
  /** `pg_class.relkind`: r, p, v, m or f. */
  readonly relkind: string;
  /** Whether it is a partition of another table (`relispartition`). */
  readonly partition: boolean;
  /** Primary key columns in key order, or null when there is none. */
  readonly primaryKey: readonly string[] | null;
  /** The planner's estimate (a partitioned table's: the sum over its leaves), or null when unknown. */
  readonly estimatedRows: number | null;
}

interface SourceTableRow extends Record<string, unknown> {
  schema: string;
  name: string;
  relkind: string;
  partition: boolean;
  primary_key: string[] | null;
  estimated_rows: number | null;
}

/** The source relations that match any of the patterns, in name order, read with one query. */
export async function listSourceTables(db: Db, patterns: readonly TablePattern[]): Promise<SourceTable[]> {
  if (patterns.length === 0) return [];
  const result = await query<SourceTableRow>(db, listSourceTablesSql(patterns), 'listing the source tables');
  return result.rows
    .map((row) => ({
      schema: row.schema,
      name: row.name,
      relkind: row.relkind,
      partition: row.partition,
      primaryKey: row.primary_key,
      estimatedRows: row.estimated_rows === null ? null : Number(row.estimated_rows),
    }))
    .filter((table) => patterns.some((pattern) => matchesTablePattern(pattern, table)));
}

/** What resolution needs of one entry of `tables:`. */
export interface TableEntryMatch {
  /** Its position in `tables:`, for messages. */
  readonly index: number;
  readonly match: TablePattern;
  readonly exclude: readonly TablePattern[];
  /** Whether the entry names one table (any relkind, listed even when missing) rather than a pattern. */
  readonly exact: boolean;
  /** Its `table` as written. */
  readonly text: string;
}

/** A table of the run, the entry it belongs to, and its source relation (undefined when an exact entry names a missing one). */
export interface ResolvedTable {
  readonly ref: TableRef;
  readonly entry: number;
  readonly source: SourceTable | undefined;
}

/** Relation kinds a pattern takes: ordinary and partitioned tables (views and the rest only by name). */
const PATTERN_RELKINDS = new Set(['r', 'p']);

/** Code point order, which is what COLLATE "C" sorts UTF-8 names by (code units differ only around surrogates). */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function compareRefs(a: TableRef, b: TableRef): number {
  return compareText(a.schema, b.schema) || compareText(a.name, b.name);
}

const keyOf = (ref: TableRef): string => formatTableName(ref);

function excluded(entry: TableEntryMatch, ref: TableRef): boolean {
  return entry.exclude.some((pattern) => matchesTablePattern(pattern, ref));
}

/** Whether a pattern entry could take the relation, before its excludes: its match, a table, not a partition. */
function candidate(entry: TableEntryMatch, row: SourceTable): boolean {
  return matchesTablePattern(entry.match, row) && (entry.exact || (PATTERN_RELKINDS.has(row.relkind) && !row.partition));
}

/**
 * Pure. Walk rows in name order; a row goes to the FIRST entry that matches it and none of whose excludes match it.
 * A pattern entry takes only relkind r or p and not partitions (relispartition). An exact entry takes any relkind and is listed even when no row exists (source undefined: that table's run fails on its own). Duplicates never appear twice. Output in name order (COLLATE "C" order: by code point, which is UTF-8 byte order).
 * warnings: one per pattern entry that matched nothing: `tables[1]: "sales.tmp*" matches no table`; one per pattern
 * entry whose tables were all excluded or taken by earlier entries: `tables[2]: "sales.*" gets no table: ...`.
 */
export function resolveTables(entries: readonly TableEntryMatch[], rows: readonly SourceTable[]): { tables: ResolvedTable[]; warnings: string[] } {
  const taken = new Map<string, ResolvedTable>();
  const present = new Set<string>();
  const candidates = new Map<number, number>();
  for (const row of [...rows].sort(compareRefs)) {
    const ref = { schema: row.schema, name: row.name };
    const key = keyOf(ref);
    if (present.has(key)) continue;
    present.add(key);
    let owner: TableEntryMatch | undefined;
    for (const entry of entries) {
      if (!candidate(entry, row)) continue;
      candidates.set(entry.index, (candidates.get(entry.index) ?? 0) + 1);
      if (!owner && !excluded(entry, ref)) owner = entry;
    }
    if (owner) taken.set(key, { ref, entry: owner.index, source: row });
  }
  for (const entry of entries) {
    const ref = entry.exact ? patternTable(entry.match) : undefined;
    if (!ref || present.has(keyOf(ref)) || taken.has(keyOf(ref)) || excluded(entry, ref)) continue;
    taken.set(keyOf(ref), { ref, entry: entry.index, source: undefined });
  }
  const tables = [...taken.values()].sort((a, b) => compareRefs(a.ref, b.ref));
  const served = new Set(tables.map((table) => table.entry));
  const warnings: string[] = [];
  for (const entry of entries) {
    if (entry.exact || served.has(entry.index)) continue;
    warnings.push(
      (candidates.get(entry.index) ?? 0) === 0
        ? `tables[${entry.index}]: "${entry.text}" matches no table`
        : `tables[${entry.index}]: "${entry.text}" gets no table: each table it matches is excluded or taken by an earlier entry`,
    );
  }
  return { tables, warnings };
}

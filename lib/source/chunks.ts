/**
 * Splits the extraction into balanced ranges of the chunk column. Bounds are quantiles of a sample, so
 * chunks are balanced by rows, not by value range; the ranges are open at both ends, so every row
 * lands in exactly one chunk whatever the estimate got wrong.
 */
import { CONFIG_DEFAULTS } from '../config/index.ts';
import { query, type Db } from '../db/index.ts';
import { ident } from '../sql/quote.ts';
import { sourceFrom, type ChunkBounds, type SourceRef } from '../sql/extract.ts';
import type { ColumnSpec } from '../sql/types.ts';

/** Rows sampled per chunk boundary; enough that chunk sizes vary by a few percent. */
const SAMPLE_ROWS_PER_CHUNK = 200;
/** Fewest rows to sample before trusting a sample at all. */
const MIN_SAMPLE_ROWS = 20_000;
/** Fewest matching rows a first sample must hold to size a second, larger one from it. */
const MIN_RESAMPLE_ROWS = 200;
/** Largest share of the table (percent of its pages) a second sample may read instead of every matching row. */
const MAX_RESAMPLE_PERCENT = 5;

/**
 * Rows per chunk when the pipeline sets no `chunk_rows`: 1,000,000, or as many rows as fill `chunkBytes` of
 * the table where rows are wider than that allows (a chunk of wide rows would otherwise run for many
 * minutes in one Lambda, with the other chunk slots idle).
 */
export function defaultChunkRows(rowBytes: number | undefined, chunkBytes: number = CONFIG_DEFAULTS.chunkBytes): number {
  if (rowBytes === undefined || !(rowBytes > 0)) return CONFIG_DEFAULTS.chunkRows;
  return Math.max(1, Math.min(CONFIG_DEFAULTS.chunkRows, Math.floor(chunkBytes / rowBytes)));
}

/**
 * Rows per chunk: `chunk_rows` when the file sets it, else {@link defaultChunkRows}; either way no more rows than fill
 * `chunkBytes` of the table, so that a chunk of wide rows still fits one task's time (the smaller wins).
 */
export function chunkRowsFor(chunkRows: number | undefined, rowBytes: number | undefined, chunkBytes: number = CONFIG_DEFAULTS.chunkBytes): number {
  if (chunkRows === undefined) return defaultChunkRows(rowBytes, chunkBytes);
  if (rowBytes === undefined || !(rowBytes > 0)) return chunkRows;
  return Math.max(1, Math.min(chunkRows, Math.floor(chunkBytes / rowBytes)));
}

/** Inputs of {@link planChunks}. */
export interface ChunkPlanInput {
  readonly source: SourceRef;
  /** Extraction predicates (custom_predicate, window) already as SQL. */
  readonly predicates: readonly string[];
  readonly chunkColumn: ColumnSpec | undefined;
  readonly chunkRows: number;
  /** Planner estimate of the table's rows (table sources only). */
  readonly estimatedRows: number | undefined;
}

/** Chooses chunk bounds; one open chunk when there is no chunk column or too few rows to split. */
export async function planChunks(db: Db, input: ChunkPlanInput): Promise<ChunkBounds[]> {
  const single: ChunkBounds[] = [{ lower: null, upper: null }];
  if (!input.chunkColumn) return single;
  const where = input.predicates.length > 0 ? ` WHERE ${input.predicates.map((p) => `(${p})`).join(' AND ')}` : '';
  const col = ident(input.chunkColumn.name);

  // The chunk column's values of a TABLESAMPLE of `percent`% of the pages, or of every matching row.
  const sample = (percent: number): string => `(SELECT ${col} FROM ${sourceFrom(input.source)} TABLESAMPLE SYSTEM (${percent}) REPEATABLE (7)${where}) AS s`;
  const every = `(SELECT ${col} FROM ${sourceFrom(input.source)}${where}) AS s`;

  let sampleFrom = every;
  let rows: number;
  if (input.source.table && input.estimatedRows !== undefined && input.estimatedRows > MIN_SAMPLE_ROWS) {
    const percent = Math.min(100, (100 * Math.max(MIN_SAMPLE_ROWS, (input.estimatedRows / input.chunkRows) * SAMPLE_ROWS_PER_CHUNK)) / input.estimatedRows);
    sampleFrom = sample(percent);
    const sampled = await countRows(db, sampleFrom);
    rows = (sampled * 100) / percent;
    if (sampled < MIN_SAMPLE_ROWS / 4) {
      // A selective window (an incremental run) leaves few sampled rows. When even a generous reading of the
      // estimate stays within one chunk, one open chunk is exact anyway: skip counting every matching row.
      if (((sampled + 10) * 100) / percent < input.chunkRows / 2) return single;
      // Too few rows to balance chunks on. Where they say how much larger a sample must be to hold enough, and
      // that is a few percent of the pages, take that sample: cheaper than reading a large window in full
      // through the cursor's index. Else (a window too small to tell) read every row.
      const larger = sampled >= MIN_RESAMPLE_ROWS ? (percent * (MIN_SAMPLE_ROWS / 4) * 1.5) / sampled : Infinity;
      const resample = larger <= MAX_RESAMPLE_PERCENT;
      sampleFrom = resample ? sample(larger) : every;
      const counted = await countRows(db, sampleFrom);
      rows = resample ? (counted * 100) / larger : counted;
    }
  } else {
    rows = await countRows(db, every);
  }
  const count = Math.ceil(rows / input.chunkRows);
  if (count <= 1) return single;

  const fractions = Array.from({ length: count - 1 }, (_, i) => (i + 1) / count);
  const result = await query<{ bounds: string[] | null }>(
    db,
    {
      text: `SELECT (percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY s.${col}))::text[] AS bounds FROM ${sampleFrom}`,
      values: [fractions],
    },
    'choosing chunk bounds',
  );
  const bounds = [...new Set((result.rows[0]?.bounds ?? []).filter((b): b is string => b !== null))];
  if (bounds.length === 0) return single;
  const chunks: ChunkBounds[] = [{ lower: null, upper: bounds[0] ?? null }];
  for (let i = 0; i < bounds.length; i += 1) {
    chunks.push({ lower: bounds[i] ?? null, upper: bounds[i + 1] ?? null });
  }
  return chunks;
}

async function countRows(db: Db, from: string): Promise<number> {
  const result = await query<{ n: string }>(db, `SELECT count(*) AS n FROM ${from}`, 'counting source rows');
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * The extraction window of an incremental run. Bounds are fixed at plan time and every chunk reads only
 * rows inside them, so a row that exists unchanged during the run is read exactly once, and a row that
 * changes during the run is read with its new cursor or xmin by the next run.
 */
import type { PipelineConfig } from '../config/index.ts';
import { query, type Db } from '../db/index.ts';
import { serverVersion } from '../db/server.ts';
import { ConfigError, DatabaseError, NullCursorError } from '../errors.ts';
import type { TaskLogger } from '../log.ts';
import { ident, literal, qualified, typedLiteral } from '../sql/quote.ts';
import { sourceFrom } from '../sql/extract.ts';
import type { ColumnSpec } from '../sql/types.ts';

/** A stored cursor (`pipeline_state.cursor`): values as text of their type, never through a JS Date or number. */
export type Cursor =
  | { readonly strategy: 'column'; readonly column: string; readonly type: string; readonly value: string }
  | { readonly strategy: 'xmin'; readonly xmin: string };

/** The window of one run, as stored in `runs.window_bounds` and the plan. */
export interface ExtractionWindow {
  readonly strategy: 'none' | 'column' | 'xmin';
  /** Inclusive lower bound as stored (column value text or 64-bit xid); null = from the beginning. */
  readonly lower: string | null;
  /** Upper bound as stored: column max at plan time (inclusive), or snapshot xmin (exclusive). */
  readonly upper: string | null;
  /** Whether every row is extracted (first run, --full-refresh, xmin window past one epoch). */
  readonly full: boolean;
  /** SQL AND-ed onto every chunk's extraction; absent when the window takes every row. */
  readonly predicate?: string;
  /** The cursor Apply stores when the run succeeds. */
  readonly cursorAfter: Cursor | null;
  /** The cursor column, for column windows. */
  readonly column?: ColumnSpec;
  /** Why the window is what it is, when that is worth a log line. */
  readonly note?: string;
}

const EPOCH = 2n ** 32n;
/** xids below this are special (invalid, bootstrap, frozen) and never fall in a window. */
const FIRST_NORMAL_XID = 3n;

/** Reads the stored cursor if it belongs to this pipeline's current incremental settings. */
export function usableCursor(config: PipelineConfig, stored: unknown): Cursor | undefined {
  if (!stored || typeof stored !== 'object') return undefined;
  const c = stored as Partial<Record<string, unknown>>;
  const options = config.source.options;
  if (options.incremental_strategy === 'column' && c.strategy === 'column' && c.column === options.incremental_column && typeof c.value === 'string') {
    return { strategy: 'column', column: String(c.column), type: String(c.type), value: c.value };
  }
  if (options.incremental_strategy === 'xmin' && c.strategy === 'xmin' && typeof c.xmin === 'string' && /^\d+$/.test(c.xmin)) {
    return { strategy: 'xmin', xmin: c.xmin };
  }
  return undefined;
}

/** Inputs of {@link planWindow}. */
export interface WindowInput {
  readonly config: PipelineConfig;
  /** The cursor column with its source type (column strategy). */
  readonly cursorColumn?: ColumnSpec;
  /** The stored cursor, as read under the lease. */
  readonly stored: unknown;
  /** `--full-refresh` / `{"full_refresh": true}`: ignore the stored cursor once. */
  readonly fullRefresh: boolean;
  readonly log: TaskLogger;
}

/** Fixes the run's window on the source (read-only: max() of the cursor column, or the current snapshot). */
export async function planWindow(db: Db, input: WindowInput): Promise<ExtractionWindow> {
  const strategy = input.config.source.options.incremental_strategy;
  if (strategy === 'column') return columnWindow(db, input);
  if (strategy === 'xmin') return xminWindow(db, input);
  return { strategy: 'none', lower: null, upper: null, full: true, cursorAfter: null };
}

async function columnWindow(db: Db, input: WindowInput): Promise<ExtractionWindow> {
  const { config } = input;
  const options = config.source.options;
  const column = input.cursorColumn;
  // Named like its siblings (a missing chunk_column or unique_key column), not as the bare base class.
  if (!column) throw new DatabaseError(`source.options.incremental_column: the source has no column ${JSON.stringify(options.incremental_column)}`, '42703');
  const col = ident(column.name);
  const where = options.custom_predicate ? ` WHERE (${options.custom_predicate})` : '';
  const from = sourceFrom(config.source);

  if (options.null_cursor === 'fail') {
    const nulls = await query(
      db,
      `SELECT 1 FROM ${from} WHERE ${col} IS NULL${options.custom_predicate ? ` AND (${options.custom_predicate})` : ''} LIMIT 1`,
      'looking for NULL cursor values',
    );
    if (nulls.rowCount) {
      throw new NullCursorError(
        `source has rows whose ${column.name} is NULL; they would never be extracted. Set source.options.null_cursor to include or exclude`,
        column.name,
      );
    }
  }
  const max = await query<{ upper: string | null }>(db, `SELECT max(${col})::text AS upper FROM ${from}${where}`, 'reading the cursor column maximum');
  const upper = max.rows[0]?.upper ?? null;

  const cursor = input.fullRefresh ? undefined : usableCursor(config, input.stored);
  const stored = cursor?.strategy === 'column' ? cursor : undefined;
  let lower: string | null = null;
  if (stored) lower = await lowerBound(db, stored.value, column.type, options.lookback);

  const range: string[] = [];
  if (lower !== null) range.push(`${col} >= ${typedLiteral(lower, column.type)}`);
  if (upper !== null) range.push(`${col} <= ${typedLiteral(upper, column.type)}`);
  // No non-NULL value at all: nothing but (maybe) the NULLs is in the window.
  const bounded = upper === null ? 'false' : range.join(' AND ');
  const predicate = options.null_cursor === 'include' ? `(${bounded}) OR ${col} IS NULL` : bounded;
  const cursorAfter: Cursor | null = upper !== null ? { strategy: 'column', column: column.name, type: column.type, value: upper } : (stored ?? null);
  return {
    strategy: 'column',
    lower,
    upper,
    full: lower === null,
    predicate,
    cursorAfter,
    column,
    note: stored
      ? undefined
      : input.fullRefresh
        ? 'full refresh requested: stored cursor ignored'
        : 'no stored cursor: first run extracts everything up to the current maximum',
  };
}

/** `stored - lookback` computed by the source in the column's own type, so precision is kept. */
async function lowerBound(db: Db, value: string, type: string, lookback: string | number | undefined): Promise<string> {
  if (lookback === undefined || lookback === 0 || lookback === '0') return value;
  const amount = typeof lookback === 'number' ? `${literal(String(lookback))}::numeric` : `${literal(lookback)}::interval`;
  const result = await query<{ lower: string }>(
    db,
    `SELECT (${typedLiteral(value, type)} - ${amount})::${type}::text AS lower`,
    'applying lookback to the stored cursor',
  );
  return result.rows[0]?.lower ?? value;
}

/** The 32-bit xmin of a tuple as a number, for window comparisons. */
const XMIN32 = 'xmin::text::bigint';

async function xminWindow(db: Db, input: WindowInput): Promise<ExtractionWindow> {
  const { config } = input;
  const table = config.source.table;
  if (!table) throw new ConfigError('source.options.incremental_strategy xmin needs source.table');
  // Never txid_current()/pg_current_xact_id(): they assign an xid, which a read replica cannot.
  const snapshotSql =
    (await serverVersion(db)) >= 130000 ? 'pg_snapshot_xmin(pg_current_snapshot())::text' : 'txid_snapshot_xmin(txid_current_snapshot())::text';
  const snap = await query<{ upper: string }>(db, `SELECT ${snapshotSql} AS upper`, 'reading the snapshot');
  const upper = snap.rows[0]?.upper ?? '0';
  const cursorAfter: Cursor = { strategy: 'xmin', xmin: upper };
  const cursor = input.fullRefresh ? undefined : usableCursor(config, input.stored);
  if (cursor?.strategy !== 'xmin') {
    const note = input.fullRefresh ? 'full refresh requested: stored cursor ignored' : 'no stored cursor: first run extracts everything';
    return { strategy: 'xmin', lower: null, upper, full: true, cursorAfter, note };
  }
  const lower = cursor.xmin;
  const window = xminPredicate(BigInt(lower), BigInt(upper));
  if (window.full) {
    input.log.warn('xmin window cannot be expressed in 32-bit xids: extracting every row', {
      pipeline: config.name,
      table: qualified(table),
      lower,
      upper,
      reason: window.reason,
    });
    return { strategy: 'xmin', lower, upper, full: true, cursorAfter, note: window.reason };
  }
  return { strategy: 'xmin', lower, upper, full: false, predicate: window.predicate, cursorAfter, note: window.reason };
}

/**
 * Tuple xmins are 32-bit and wrap around every 2^32 transactions; window bounds are 64-bit. Within one
 * epoch the window is one range; across one wrap it is two; a window wider than 2^32 (or going backwards,
 * e.g. state from another server) cannot be told apart from older rows, so it becomes a full extraction.
 */
export function xminPredicate(lower: bigint, upper: bigint): { full: boolean; predicate?: string; reason?: string } {
  if (upper < lower) return { full: true, reason: `snapshot xmin ${upper} is behind the stored cursor ${lower} (restored or different server)` };
  if (upper - lower >= EPOCH) return { full: true, reason: `window spans more than one xid epoch (${lower} .. ${upper})` };
  const lo = lower % EPOCH > FIRST_NORMAL_XID ? lower % EPOCH : FIRST_NORMAL_XID;
  const hi = upper % EPOCH;
  if (lower / EPOCH === upper / EPOCH) return { full: false, predicate: `${XMIN32} >= ${lo} AND ${XMIN32} < ${hi}` };
  return {
    full: false,
    predicate: `${XMIN32} >= ${lo} OR (${XMIN32} >= ${FIRST_NORMAL_XID} AND ${XMIN32} < ${hi})`,
    reason: `window wraps the 32-bit xid counter once: split in two ranges`,
  };
}

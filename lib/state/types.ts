/** Shapes of what the state database holds, and of the run summary built from it. */
import type { ExtractionWindow } from '../source/window.ts';
import type { ColumnSpec, StagedNotNull } from '../sql/types.ts';

/** What the plan fixed for a run; stored in `runs.plan` so every later task reads the same decisions. */
export interface RunPlan {
  /** Columns extracted, in source order. */
  readonly columns: readonly ColumnSpec[];
  /** Column the chunks split on, when there is more than one chunk. */
  readonly chunkColumn?: ColumnSpec;
  /** Staging table of this run and its table of extracted chunks. */
  readonly staging: { readonly schema: string; readonly name: string; readonly doneName: string };
  /** Whether the target existed at plan time (create_table creates it in apply otherwise). */
  readonly targetExists: boolean;
  /** The run's extraction window (bounds fixed at plan time). */
  readonly window: ExtractionWindow;
  /**
   * Extra staged column `pgferry_xmin` (the source row's xmin as a 64-bit number relative to the plan's
   * snapshot), present when keep_last needs "the latest xmin" to break ties.
   */
  readonly xminReference?: string;
  /** The target's columns at plan time, when it existed. */
  readonly targetColumns?: readonly (ColumnSpec & { readonly notNull: boolean })[];
  /**
   * `exchange`: the target's NOT NULL columns, which the staging table is created with, so COPY checks every
   * row as it arrives and the exchange needs no scan of the staged rows to add them.
   */
  readonly stagedNotNull?: readonly StagedNotNull[];
  /**
   * Merges and `only_new_rows`: the unique indexes on the key that keep staged keys from repeating, so the
   * duplicate-key check is skipped (see lib/source/unique-key.ts): the source table's, read in one chunk or
   * in chunks split on a key column, and the target's, which rejects a duplicate should one slip in.
   */
  readonly stagedKeysUnique?: { readonly sourceIndex: string; readonly targetIndex: string };
}

/** Status of a run in `runs.status` (`skipped` runs are never recorded: they changed nothing). */
export const RunStatus = {
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  /** The execution timed out before RecordFailure could run (recorded by the cleanup task). */
  timedOut: 'timed_out',
  /** The execution was stopped (StopExecution, the console) before RecordFailure could run. */
  aborted: 'aborted',
  skipped: 'skipped',
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];

/** Fields of a new run row. */
export interface NewRun {
  readonly runId: string;
  readonly pipeline: string;
  readonly mode: string;
  readonly strategy: string;
  readonly fullRefresh: boolean;
  readonly plan: RunPlan;
  readonly windowBounds: unknown;
  readonly cursorBefore: unknown;
  readonly chunks: readonly { lower: string | null; upper: string | null }[];
}

/** Counts of a successful apply. */
export interface RunOutcome {
  readonly rowsExtracted: number;
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
  readonly bytes: number;
  readonly cursorAfter: unknown;
}

/** The error recorded on a run or chunk row (`error jsonb`). */
export interface RecordedError {
  readonly name: string;
  readonly message: string;
}

/** A row of `runs`. */
export interface RunRecord {
  readonly runId: string;
  readonly pipeline: string;
  readonly status: RunStatus;
  readonly mode: string | null;
  readonly strategy: string | null;
  readonly fullRefresh: boolean;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly windowBounds: unknown;
  readonly plan: RunPlan | null;
  readonly chunkCount: number | null;
  readonly rowsExtracted: number | null;
  readonly rowsInserted: number | null;
  readonly rowsDeleted: number | null;
  readonly bytes: number | null;
  readonly cursorBefore: unknown;
  readonly cursorAfter: unknown;
  readonly error: { name: string; message: string } | null;
}

/** The run summary (its fields are listed under "Commands" in README.md): what `run --json` prints as its last line and the state machine returns. */
export interface RunSummary {
  pipeline: string;
  runId: string;
  status: 'succeeded' | 'failed' | 'skipped';
  mode: string | null;
  strategy: string | null;
  rowsExtracted: number;
  rowsInserted: number;
  rowsDeleted: number;
  chunks: number;
  bytes: number;
  cursorBefore: unknown;
  cursorAfter: unknown;
  durationMs: number;
  /** The window (bounds as stored), for incremental runs. */
  window?: { strategy: string; lower: string | null; upper: string | null; full: boolean };
  error?: { name: string; message: string };
}

/** The contract every load strategy implements. */
import type { PipelineConfig } from '../../config/index.ts';
import type { Db } from '../../db/index.ts';
import type { TaskLogger } from '../../log.ts';
import type { TableName } from '../../sql/quote.ts';
import type { RunPlan } from '../../state/types.ts';
import type { AheadJob } from '../ahead.ts';

/** What a strategy's plan-time check adds to the run's plan. */
export type PlanAdditions = Pick<RunPlan, 'stagedNotNull'>;

/** What a strategy gets inside the apply transaction. */
export interface StrategyContext {
  /** The target connection, inside the open apply transaction: never BEGIN/COMMIT here. */
  readonly db: Db;
  readonly config: PipelineConfig;
  readonly plan: RunPlan;
  /** The run's staging table (all chunks loaded; duplicates already resolved per duplicate_policy). */
  readonly staging: TableName;
  /** Rows in staging. */
  readonly stagedRows: number;
  /** The cursor stored before this run (what the previous run loaded up to). */
  readonly cursorBefore: unknown;
  readonly log: TaskLogger;
  /**
   * Staging was analyzed before `apply`: in this transaction (for the strategy or the duplicate-key check), or
   * ahead of it (see Strategy.ahead), which applyStrategy then does not repeat.
   */
  readonly stagingAnalyzed?: boolean;
}

/** What a strategy gets before the apply transaction, to plan work on staging ahead of it. */
export interface AheadContext {
  /** The target connection, outside any transaction. */
  readonly db: Db;
  readonly config: PipelineConfig;
  readonly plan: RunPlan;
  /** The run's staging table, every chunk loaded. */
  readonly staging: TableName;
  /** Rows in staging. */
  readonly stagedRows: number;
}

/** Rows the strategy changed in the target. */
export interface StrategyResult {
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
}

/** A load strategy: `check` runs at plan time (read-only, before extraction), `apply` in the apply transaction. */
export interface Strategy {
  /**
   * Refuses, before anything is extracted, a target this strategy cannot load (UnsafeTargetError, ConfigError...).
   * May return what the plan records for this strategy from the catalog it read.
   */
  check?(db: Db, config: PipelineConfig, plan: RunPlan): Promise<PlanAdditions | void>;
  /**
   * Work on staging that may run before the apply transaction, several jobs at once on their own connections
   * (see runAhead). Only what the apply would otherwise do itself and can verify or redo: a failed job is left
   * to the apply. @default none
   */
  ahead?(ctx: AheadContext): Promise<AheadJob[]>;
  /** Applies staging to the target; throws to roll everything back. */
  apply(ctx: StrategyContext): Promise<StrategyResult>;
  /**
   * Whether the staging table is analyzed before `apply`: its statistics guide joins with the target, and an
   * exchanged staging table starts life as the target with them. Statements that only scan staging or look
   * keys up one by one do not need them (ANALYZE reads up to 30,000 rows). A strategy that learns only in
   * `apply` which statements it runs may answer false and analyze there (see `stagingAnalyzed`). @default true
   */
  needsStagingStatistics?(ctx: StrategyContext): boolean;
  /** The SQL `pgferry plan` prints for this strategy (may read the catalog, must not write). */
  describe?(db: Db, config: PipelineConfig, plan: RunPlan, staging: TableName): Promise<string[]>;
}

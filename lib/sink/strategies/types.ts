/**
 * The descriptor every load strategy is: what the rest of pgferry asks about it (the privileges it needs,
 * whether it replaces the target, its staging, keys and duplicates, its work ahead) and the one statement
 * plan that both the Apply task executes and `pgferry plan` prints. See "How to add a strategy" in
 * docs/architecture.md.
 */
import type pg from 'pg';
import type { DuplicatePolicy, PipelineConfig, StrategyConfig } from '../../config/index.ts';
import type { Db, Statement } from '../../db/index.ts';
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

/**
 * What a strategy's statement plan is built from. Applying, it runs in the apply transaction and every step is
 * executed before the plan goes on; describing (`pgferry plan`), nothing is executed, staging does not exist
 * yet (`stagedRows` is undefined: read nothing of it) and the plan reads the catalog as it is now.
 */
export interface StatementContext extends Omit<StrategyContext, 'stagedRows'> {
  readonly stagedRows: number | undefined;
  readonly describing: boolean;
}

/** One step of a statement plan. */
export type Step =
  /** One statement; its result is what `yield` returns (undefined when describing). */
  | { readonly sql: Statement | string; readonly what: string }
  /** Statements run one after another. */
  | { readonly batch: readonly (Statement | string)[]; readonly what: string }
  /** A line `pgferry plan` prints between statements (a `--` comment); nothing runs. */
  | { readonly note: string };

/**
 * A statement plan: an async generator of steps that returns the rows the strategy changed. Reads of the
 * catalog between steps are plain queries on `ctx.db`; applying, they see what the earlier steps did (and
 * the locks they took).
 */
export type Statements = AsyncGenerator<Step, StrategyResult, pg.QueryResult | undefined>;

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

/** A table privilege a strategy may need on an existing target, or its ownership. */
export type TargetNeed = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE' | 'ownership';

/** A load strategy, as written in its file under lib/sink/strategies/ and listed once in ./index.ts. */
export interface StrategySpec {
  /** `mode` and the setting that picks this strategy, as the run summary and `pgferry plan` name them. */
  label(config: PipelineConfig): { readonly mode: string; readonly strategy: string };
  /** Whether a pipeline's `sink.strategy` picks this strategy (the first in the list that does is used). */
  selects(strategy: StrategyConfig): boolean;
  /**
   * What it needs on an existing target (privileges or ownership). `partitioned`: the target is a partitioned
   * table.
   */
  needs(config: PipelineConfig, target: { readonly partitioned: boolean }): readonly TargetNeed[];
  /**
   * It replaces the target by another table moved into the target's schema (ALTER TABLE ... SET SCHEMA and a
   * rename): CREATE on that schema when staging lives elsewhere. @default false
   */
  readonly replacesTarget?: boolean;
  /**
   * Staging becomes the target: it is created LOGGED, and in the target's column order and types (an
   * existing target whose types differ from the source's is refused at plan time). @default false
   */
  readonly stagingBecomesTarget?: boolean;
  /**
   * Raw SQL of the pipeline file that runs against the target (replace: its custom_predicate), with the key that
   * holds it: `pgferry check` makes sure it plans there. @default none
   */
  targetCondition?(config: PipelineConfig): { readonly key: string; readonly sql: string } | undefined;
  /** The columns rows are matched on, when it has them. @default none */
  keys?(config: PipelineConfig): readonly string[] | undefined;
  /** How keys staged more than once are resolved before the apply; undefined: they are not looked for. @default undefined */
  duplicates?(config: PipelineConfig): DuplicatePolicy | undefined;
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
  /**
   * Whether the staging table is analyzed before the apply: its statistics guide joins with the target, and an
   * exchanged staging table starts life as the target with them. Statements that only scan staging or look
   * keys up one by one do not need them (ANALYZE reads up to 30,000 rows). A strategy that learns only in its
   * statements whether it joins staging may answer false and analyze there (see `stagingAnalyzed`). @default true
   */
  needsStagingStatistics?(ctx: StrategyContext): boolean;
  /** The statement plan: executed step by step by `apply`, printed by `describe`. */
  statements(ctx: StatementContext): Statements;
}

/** A strategy with its statement plan bound to execution (`apply`) and to printing (`describe`). */
export interface Strategy extends StrategySpec {
  /** Runs the statement plan in the apply transaction; throws to roll everything back. */
  apply(ctx: StrategyContext): Promise<StrategyResult>;
  /**
   * The SQL `pgferry plan` prints: the statement plan, read from the catalog, nothing executed (`cursorBefore` is
   * undefined: a statement that holds the stored cursor shows `<stored cursor>`).
   */
  describe(db: Db, config: PipelineConfig, plan: RunPlan, staging: TableName): Promise<string[]>;
}

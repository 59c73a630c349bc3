/** Inputs, outputs and dependencies of the task functions: what Lambdas and the local runner both call. */
import type { PipelineConfig, TablesFile } from '../config/index.ts';
import type { ConnectionRef } from '../connections/index.ts';
import type { TaskBudget } from '../db/budget.ts';
import type { Db } from '../db/index.ts';
import type { TaskLogger } from '../log.ts';

/** What a task function needs from outside: config lookup, connections, logging. */
export interface TaskDeps {
  /** The pipeline's configuration by name, or a table run's by its reference (throws ConfigError for an unknown one). */
  readonly pipeline: (name: string) => PipelineConfig;
  /** A file that lists tables, by its pipeline name (the Tables task's). @default none */
  readonly file?: (name: string) => TablesFile;
  /** Opens a connection; `readOnly` for the source. */
  readonly connect: (ref: ConnectionRef, options: { readOnly?: boolean }) => Promise<Db>;
  readonly log: TaskLogger;
  /** The task's time budget: every session it opens runs under it (see lib/db/budget.ts). @default none */
  readonly budget?: TaskBudget;
  /** Fault-injection points for tests (a crash between the strategy SQL and the commit). @default none */
  readonly hooks?: TaskHooks;
}

/** Places where a test can make a task fail, to prove a failure there changes nothing. */
export interface TaskHooks {
  /** Runs in Apply after the work ahead of the transaction (index builds), before the lease's last renewal and the fence. */
  readonly beforeApplyFence?: (run: { pipeline: string; runId: string }) => Promise<void>;
  /** Runs inside the apply transaction after the strategy SQL and the cursor update, before COMMIT. */
  readonly beforeApplyCommit?: (run: { pipeline: string; runId: string }) => Promise<void>;
}

/** Input of Plan: the execution's name is the run id; `request` is the execution input. */
export interface PlanInput {
  readonly pipeline: string;
  readonly runId: string;
  readonly request: unknown;
}

/** Output of Plan: only chunk numbers travel through the state machine; bounds stay in the state database. */
export interface PlanOutput {
  readonly pipeline: string;
  readonly runId: string;
  readonly chunks: number[];
  /** `max_parallel_chunks`: a table machine's chunk Map reads it (MaxConcurrencyPath). */
  readonly maxParallelChunks: number;
}

/** Input of ExtractChunk. */
export interface ChunkInput {
  readonly pipeline: string;
  readonly runId: string;
  readonly chunk: number;
}

/** Output of ExtractChunk. */
export interface ChunkOutput {
  readonly chunk: number;
  readonly rows: number;
  readonly bytes: number;
}

/** Input of Apply and Finalize. */
export interface RunInput {
  readonly pipeline: string;
  readonly runId: string;
}

/** Output of Apply. */
export interface ApplyOutput {
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
}

/** The `{Error, Cause}` object a Catch puts at `$.error`. */
export interface StepError {
  readonly Error?: string;
  readonly Cause?: string;
}

/** Input of RecordFailure. */
export interface FailureInput {
  readonly pipeline: string;
  readonly runId: string;
  readonly error: StepError;
}

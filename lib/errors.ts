/**
 * Every error pgferry raises: one base class, one named subclass per kind of failure. Each class sets a
 * stable `name`: the state machine's Retry and Catch fields match on it, and the CLI maps it to an exit
 * code (ConfigError and NotSupportedError 2, LeaseHeldError 3, the others 1), so renaming one is a
 * breaking change (docs/errors.md lists them). Every constructor takes `ErrorOptions` last, so an error
 * that wraps another keeps it as `cause`.
 */

/** Names of every error pgferry raises, as the state machine sees them. */
export const ErrorNames = {
  pgferry: 'PgferryError',
  config: 'ConfigError',
  connection: 'ConnectionError',
  serverUnreachable: 'ServerUnreachableError',
  transientDatabase: 'TransientDatabaseError',
  database: 'DatabaseError',
  duplicateKey: 'DuplicateKeyError',
  leaseHeld: 'LeaseHeldError',
  tableRunFailed: 'TableRunFailedError',
  taskBudgetExceeded: 'TaskBudgetExceededError',
  leaseLost: 'LeaseLostError',
  notSupported: 'NotSupportedError',
  unsafeTarget: 'UnsafeTargetError',
  incompleteRun: 'IncompleteRunError',
  nullCursor: 'NullCursorError',
  partitionReplace: 'PartitionReplaceError',
  embeddedPostgres: 'EmbeddedPostgresError',
  internal: 'InternalError',
} as const;

/** Base class of every error pgferry raises on purpose. */
export class PgferryError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.pgferry;
  }
}

/** One problem found in a pipeline file: where it is and what is allowed. */
export interface ConfigProblem {
  /** The file the problem is in (as given by the user). */
  readonly file: string;
  /** Dotted key path, e.g. `sink.strategy.unique_key`; empty for the whole document. */
  readonly path: string;
  /** What is wrong and what is allowed. */
  readonly message: string;
}

/** Invalid pipeline file, request or command-line usage. Never retried; CLI exit code 2. */
export class ConfigError extends PgferryError {
  public readonly problems: readonly ConfigProblem[];

  public constructor(problems: readonly ConfigProblem[] | string, options?: ErrorOptions) {
    const list = typeof problems === 'string' ? [{ file: '', path: '', message: problems }] : problems;
    super(list.map(formatProblem).join('\n'), options);
    this.name = ErrorNames.config;
    this.problems = list;
  }
}

/** `file: path: message`, leaving out the parts that are empty. */
export function formatProblem(problem: ConfigProblem): string {
  return [problem.file, problem.path, problem.message].filter((part) => part !== '').join(': ');
}

/** A connection could not be made or authenticated (wrong password, unknown database, refused). */
export class ConnectionError extends PgferryError {
  /** `user@host:port/database` of the connection, never with a password. */
  public readonly target: string;
  /** SQLSTATE or Node error code, when there is one. */
  public readonly code: string | undefined;

  public constructor(message: string, target: string, code?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.connection;
    this.target = target;
    this.code = code;
  }
}

/**
 * The server refused the connection or its name did not resolve: what a database looks like during an RDS
 * failover (60-120 s), so the state machine retries it like a transient error. Still a ConnectionError.
 */
export class ServerUnreachableError extends ConnectionError {
  public constructor(message: string, target: string, code?: string, options?: ErrorOptions) {
    super(message, target, code, options);
    this.name = ErrorNames.serverUnreachable;
  }
}

/** A database error that may pass if tried again (connection reset, shutdown, too many connections, serialization failure). Retried by the state machine. */
export class TransientDatabaseError extends PgferryError {
  /** SQLSTATE or Node error code, when there is one. */
  public readonly code: string | undefined;

  public constructor(message: string, code?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.transientDatabase;
    this.code = code;
  }
}

/**
 * A database error that will not pass by itself (missing table, permission denied, statement timeout...),
 * or a database that does not hold what the run needs (a run or chunk the state database does not record,
 * a table dropped while the run read it). Not retried.
 */
export class DatabaseError extends PgferryError {
  /** SQLSTATE, when the server reported one. */
  public readonly code: string | undefined;

  public constructor(message: string, code?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.database;
    this.code = code;
  }
}

/** The staged rows hold a `unique_key` more than once and `duplicate_policy` is `fail`. */
export class DuplicateKeyError extends PgferryError {
  /** The duplicated key, column name to value as text. */
  public readonly key: Readonly<Record<string, string | null>>;

  public constructor(message: string, key: Record<string, string | null>, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.duplicateKey;
    this.key = key;
  }
}

/**
 * A task ran out of its time budget (on AWS the invocation's 15 minutes; locally `--task-budget`): the server
 * cancelled its statement, nothing it did is kept, and it is recorded in `runs`. Says what to change.
 */
export class TaskBudgetExceededError extends PgferryError {
  public constructor(what: string, seconds: number, options?: ErrorOptions) {
    super(
      `${what} did not finish within the task's ${seconds} s budget (a task is one Lambda invocation of at most 15 minutes); nothing it did was kept. Make the work smaller: a lower source.options.chunk_rows, a chunk_column for a table extracted as one chunk, or overwrite_type: exchange instead of truncate_insert`,
      options,
    );
    this.name = ErrorNames.taskBudgetExceeded;
  }
}

/**
 * A table's run within a file's run failed (its own error is in its run summary and its `runs` row); what the
 * file's machine catches for that table in a local run (on AWS the child execution's failure is States.TaskFailed).
 */
export class TableRunFailedError extends PgferryError {
  public constructor(table: string, error: { name: string; message: string }, options?: ErrorOptions) {
    super(`table ${table}: ${error.name}: ${error.message}`, options);
    this.name = ErrorNames.tableRunFailed;
  }
}

/** Another run of the pipeline holds the lease. The CLI exits 3 and nothing was changed. */
export class LeaseHeldError extends PgferryError {
  public readonly pipeline: string;
  /** Run id of the run that holds the lease, or `unknown`. */
  public readonly holder: string;
  /** When the lease expires (ISO 8601), or `unknown`. */
  public readonly until: string;

  public constructor(pipeline: string, holder: string, until: string, options?: ErrorOptions) {
    super(`pipeline ${pipeline} is already running: run ${holder} holds the lease until ${until}`, options);
    this.name = ErrorNames.leaseHeld;
    this.pipeline = pipeline;
    this.holder = holder;
    this.until = until;
  }
}

/** This run no longer holds the lease (it expired and another run took it): the fencing check refused to move the cursor. */
export class LeaseLostError extends PgferryError {
  public readonly pipeline: string;
  public readonly runId: string;

  public constructor(pipeline: string, runId: string, options?: ErrorOptions) {
    super(`run ${runId} of pipeline ${pipeline} no longer holds the lease; nothing was changed`, options);
    this.name = ErrorNames.leaseLost;
    this.pipeline = pipeline;
    this.runId = runId;
  }
}

/** A configuration that validates but whose behaviour is not built yet. CLI exit code 2. */
export class NotSupportedError extends PgferryError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.notSupported;
  }
}

/** The target cannot be changed safely the requested way (views or foreign keys depend on it...). Raised before any change. */
export class UnsafeTargetError extends PgferryError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.unsafeTarget;
  }
}

/** Apply found chunks that were not extracted. */
export class IncompleteRunError extends PgferryError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.incompleteRun;
  }
}

/** Rows whose cursor column is NULL while `null_cursor` is `fail`: they would never be extracted. */
export class NullCursorError extends PgferryError {
  /** The cursor column (`source.options.incremental_column`). */
  public readonly column: string;

  public constructor(message: string, column: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.nullCursor;
    this.column = column;
  }
}

/** Why a partition_replace run was refused before any change. */
export const PartitionReplaceReasons = {
  /** A staged value belongs to no partition of the target. */
  noPartition: 'no_partition',
  /** More partitions (native: leaves; fallback: distinct values) than `max_partitions_per_run`. */
  tooManyPartitions: 'too_many_partitions',
} as const;
export type PartitionReplaceReason = (typeof PartitionReplaceReasons)[keyof typeof PartitionReplaceReasons];

/** What a {@link PartitionReplaceError} carries besides its message. */
export interface PartitionReplaceDetails {
  readonly reason: PartitionReplaceReason;
  /** no_partition: how many distinct values have no partition, and up to five of them as text (null is NULL). */
  readonly values?: { readonly count: number; readonly sample: readonly (string | null)[] };
  /** too_many_partitions: partitions the run would replace, and the limit. */
  readonly partitions?: { readonly count: number; readonly limit: number };
}

/** The staged rows cannot be applied partition by partition; raised before any change. */
export class PartitionReplaceError extends PgferryError implements PartitionReplaceDetails {
  public readonly reason: PartitionReplaceReason;
  public readonly values?: PartitionReplaceDetails['values'];
  public readonly partitions?: PartitionReplaceDetails['partitions'];

  public constructor(message: string, details: PartitionReplaceDetails, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.partitionReplace;
    this.reason = details.reason;
    if (details.values) this.values = details.values;
    if (details.partitions) this.partitions = details.partitions;
  }
}

/** The throwaway PostgreSQL server of `pgferry demo` (and the tests) could not be initialised or started. */
export class EmbeddedPostgresError extends PgferryError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.embeddedPostgres;
  }
}

/** Appended to the message of every {@link InternalError}: the user cannot fix it, only report it. */
export const INTERNAL_ERROR_HINT = 'this is a bug in pgferry; please report it with this message';

/**
 * Something that cannot happen did: a broken invariant of pgferry's own code (a task without its session,
 * a strategy called for another mode, a generated name over PostgreSQL's limit, catalog text pgferry cannot
 * read). Never retried.
 */
export class InternalError extends PgferryError {
  public constructor(message: string, options?: ErrorOptions) {
    super(`${message} (${INTERNAL_ERROR_HINT})`, options);
    this.name = ErrorNames.internal;
  }
}

/** Errors the state machine retries with backoff. */
export const RETRYABLE_ERRORS = [ErrorNames.transientDatabase, ErrorNames.serverUnreachable] as const;

/**
 * Errors of pgferry. Each class sets a stable `name`: the state machine's Retry and Catch
 * fields match on it, and the CLI maps it to an exit code, so renaming one is a breaking change.
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
  leaseLost: 'LeaseLostError',
  notSupported: 'NotSupportedError',
  unsafeTarget: 'UnsafeTargetError',
  incompleteRun: 'IncompleteRunError',
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
  public readonly code: string | undefined;

  public constructor(message: string, code?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ErrorNames.transientDatabase;
    this.code = code;
  }
}

/** A database error that will not pass by itself (missing table, permission denied, statement timeout...). Not retried. */
export class DatabaseError extends PgferryError {
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

/** Another run of the pipeline holds the lease. The CLI exits 3 and nothing was changed. */
export class LeaseHeldError extends PgferryError {
  public readonly pipeline: string;
  public readonly holder: string;

  public constructor(pipeline: string, holder: string, until: string) {
    super(`pipeline ${pipeline} is already running: run ${holder} holds the lease until ${until}`);
    this.name = ErrorNames.leaseHeld;
    this.pipeline = pipeline;
    this.holder = holder;
  }
}

/** This run no longer holds the lease (it expired and another run took it): the fencing check refused to move the cursor. */
export class LeaseLostError extends PgferryError {
  public constructor(pipeline: string, runId: string) {
    super(`run ${runId} of pipeline ${pipeline} no longer holds the lease; nothing was changed`);
    this.name = ErrorNames.leaseLost;
  }
}

/** A configuration that validates but whose behaviour is not built yet. */
export class NotSupportedError extends PgferryError {
  public constructor(message: string) {
    super(message);
    this.name = ErrorNames.notSupported;
  }
}

/** The target cannot be changed safely the requested way (views or foreign keys depend on it...). Raised before any change. */
export class UnsafeTargetError extends PgferryError {
  public constructor(message: string) {
    super(message);
    this.name = ErrorNames.unsafeTarget;
  }
}

/** Apply found chunks that were not extracted. */
export class IncompleteRunError extends PgferryError {
  public constructor(message: string) {
    super(message);
    this.name = ErrorNames.incompleteRun;
  }
}

/** Errors the state machine retries with backoff. */
export const RETRYABLE_ERRORS = [ErrorNames.transientDatabase, ErrorNames.serverUnreachable] as const;

/** The report of `pgferry check`: connection health, what the source holds, and the privileges a run needs. */

/** Which connection of the pipeline a line is about. */
export type Scope = 'source' | 'target' | 'state';

/** A failure as the report shows it: the error's stable name and its (redacted) message. */
export interface NamedError {
  readonly name: string;
  readonly message: string;
}

/** How one connection answered. Every field but `connection` and `ok` is absent when it could not be opened. */
export interface ConnectionHealth {
  /** `user@host:port/database`, never with a password. */
  readonly connection: string;
  readonly ok: boolean;
  readonly error?: NamedError;
  /** Median round trip of three `SELECT 1`, in milliseconds. */
  readonly latencyMs?: number;
  /** `server_version`, e.g. `18.1`. */
  readonly serverVersion?: string;
  /** `server_version_num`, e.g. `180001`. */
  readonly serverVersionNum?: number;
  /** The role the session runs as (`current_user`). */
  readonly user?: string;
  readonly database?: string;
  /** `pg_database_size` in bytes. */
  readonly databaseSizeBytes?: number;
  /** Tables and partitioned tables outside the system schemas (partitions not counted). */
  readonly tableCount?: number;
  /** `blks_hit / (blks_hit + blks_read)` of `pg_stat_database`; null before any block was read. */
  readonly cacheHitRatio?: number | null;
  /** Set on the state's entry when the state lives in the sink's database (one connection, checked once). */
  readonly sharedWith?: 'target';
}

/** One privilege (or ownership) a run needs, and whether the connection's role has it. */
export interface Privilege {
  readonly scope: Scope;
  /** `CONNECT`, `USAGE`, `CREATE`, `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `TRUNCATE` or `ownership`. */
  readonly privilege: string;
  /** `database "dwh"`, `schema "landing"`, `table "landing"."orders"`, `column "id" of table ...`. */
  readonly on: string;
  readonly granted: boolean;
  /** What pgferry does with it. */
  readonly why: string;
}

/** What the source is and how big. */
export interface SourceInfo {
  readonly kind: 'table' | 'query';
  /** `"schema"."name"` of a table source. */
  readonly table?: string;
  readonly exists?: boolean;
  /** `pg_total_relation_size` (summed over partitions). */
  readonly sizeBytes?: number;
  /** `pg_class.reltuples` (summed over partitions); null when the table was never analyzed. */
  readonly estimatedRows?: number | null;
  /** The planner's row estimate of the extraction (`EXPLAIN (FORMAT JSON)`), when it plans. */
  readonly planRows?: number;
  /** The incremental cursor: its column, whether the column exists and is the leading column of an index. */
  readonly cursor?: { readonly strategy: 'column' | 'xmin'; readonly column?: string; readonly exists?: boolean; readonly indexed?: boolean };
}

/** The target table as it is now. */
export interface TargetInfo {
  readonly table: string;
  readonly exists: boolean;
  readonly owner?: string;
  readonly sizeBytes?: number;
  readonly estimatedRows?: number | null;
}

/** The whole report; `ok` is false exactly when `missing` is not empty. */
export interface CheckReport {
  readonly pipeline: string;
  readonly ok: boolean;
  readonly connections: { readonly source: ConnectionHealth; readonly target: ConnectionHealth; readonly state: ConnectionHealth };
  readonly source?: SourceInfo;
  readonly target?: TargetInfo;
  readonly privileges: readonly Privilege[];
  /** Everything a run needs and does not have, one line each: `<scope>: <what>`. */
  readonly missing: readonly string[];
  /** What works but costs (`<scope>: <what>`): an unindexed cursor column, a table never analyzed. */
  readonly warnings: readonly string[];
  /** Facts worth a line (`<scope>: <what>`), e.g. that xmin runs scan the whole table. */
  readonly notes: readonly string[];
}

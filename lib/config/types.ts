/**
 * The pipeline file as the rest of pgferry sees it: parsed, validated, defaults applied.
 * Keys stay snake_case exactly as in the YAML (docs/pipeline-file.md), so a file and its parsed form read alike.
 */

/** How `connection_id` is resolved (see "Connections" in docs/pipeline-file.md). */
export const CONNECTION_TYPES = ['secretsmanager', 'env', 'url'] as const;
export type ConnectionType = (typeof CONNECTION_TYPES)[number];

/** TLS modes accepted in `connection_params.sslmode`; `allow`/`prefer` are left out because they fall back to plain text. */
export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** How the source picks the rows of a run (see "Incremental extraction" in docs/strategies.md). */
export const INCREMENTAL_STRATEGIES = ['none', 'column', 'xmin'] as const;
export type IncrementalStrategy = (typeof INCREMENTAL_STRATEGIES)[number];

/** What `column` extraction does with rows whose cursor is NULL. */
export const NULL_CURSOR_POLICIES = ['fail', 'include', 'exclude'] as const;
export type NullCursorPolicy = (typeof NULL_CURSOR_POLICIES)[number];

/** Load strategies of the sink (see "Strategies" in docs/strategies.md). */
export const STRATEGY_MODES = ['full_refresh', 'incremental_append', 'incremental_merge', 'replace', 'partition_replace'] as const;
export type StrategyMode = (typeof STRATEGY_MODES)[number];

/** How `full_refresh` replaces the target. */
export const OVERWRITE_TYPES = ['truncate_insert', 'exchange'] as const;
export type OverwriteType = (typeof OVERWRITE_TYPES)[number];

/** How `incremental_merge` merges staged rows into the target. */
export const MERGE_POLICIES = ['delete_insert', 'upsert', 'shadow_swap'] as const;
export type MergePolicy = (typeof MERGE_POLICIES)[number];

/** What a key staged more than once does: fail the run, or keep the latest row. */
export const DUPLICATE_POLICIES = ['fail', 'keep_last'] as const;
export type DuplicatePolicy = (typeof DUPLICATE_POLICIES)[number];

/** Whether `partition_replace` uses declarative partitioning: when it can, always, or never. */
export const NATIVE_MODES = ['auto', 'required', 'fallback'] as const;
export type NativeMode = (typeof NATIVE_MODES)[number];

/** Keys each strategy mode accepts besides `mode`; a key of another mode is refused naming the mode. */
export const STRATEGY_KEYS = {
  full_refresh: ['overwrite_type'],
  incremental_append: ['only_new_rows', 'unique_key', 'duplicate_policy'],
  incremental_merge: ['unique_key', 'merge_policy', 'duplicate_policy'],
  replace: ['custom_predicate'],
  partition_replace: ['partition'],
} as const satisfies Record<StrategyMode, readonly string[]>;

/** PostgreSQL truncates longer names (NAMEDATALEN - 1), which would silently point at another object. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Pipeline names become AWS resource names and state keys, hence the narrow alphabet. */
export const PIPELINE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

/** Every default the parser applies, in one place so docs and code agree. */
export const CONFIG_DEFAULTS = {
  timezone: 'UTC',
  scheduleEnabled: true,
  connectionType: 'secretsmanager',
  tableSchema: 'public',
  incrementalStrategy: 'none',
  nullCursor: 'fail',
  chunkRows: 1_000_000,
  /** Bytes of the source table per chunk when `chunk_rows` is not set: wide rows get fewer rows per chunk. */
  chunkBytes: 256 * 1024 * 1024,
  maxParallelChunks: 4,
  /** Smallest `chunk_rows`: below it a run is mostly per-chunk overhead (and Plan's output caps the chunk count). */
  minChunkRows: 10,
  /** `state.lease_ttl`: how long a lease lasts without a heartbeat. */
  leaseTtlMs: 15 * 60_000,
  createTable: true,
  stagingSchema: 'pgferry_staging',
  stateSchema: 'pgferry',
  overwriteType: 'truncate_insert',
  onlyNewRows: false,
  mergePolicy: 'delete_insert',
  duplicatePolicy: 'fail',
  nativeMode: 'auto',
  maxPartitionsPerRun: 64,
} as const;

/** Fields a pipeline file may give next to a connection; they fill what the resolved connection leaves out. */
export interface ConnectionParams {
  /** Host name or address. */
  host?: string;
  /** Given as a number or a string of digits. */
  port?: number;
  /** `dbname` is accepted as an alias; `database` wins when both are given. */
  database?: string;
  /** `user` is accepted as an alias; `username` wins when both are given. */
  username?: string;
  /** TLS mode; the connection's own default applies when unset. */
  sslmode?: SslMode;
  /** Path of a PEM file of certificate authorities. */
  sslrootcert?: string;
  /** Shown in pg_stat_activity. */
  application_name?: string;
  /** Seconds. */
  connect_timeout?: number;
  /** Milliseconds, normalised from a number or a PostgreSQL duration such as `30s` or `2 minutes`. */
  statement_timeout?: number;
}

/** A connection as the pipeline file names it. */
export interface ConnectionConfig {
  /** Secret name or ARN, env connection id, or postgres URL, after `connection_type`. */
  connection_id: string;
  /** @default 'secretsmanager' */
  connection_type: ConnectionType;
  /** @default {} */
  connection_params: ConnectionParams;
}

/** A table, always quoted in SQL. */
export interface TableRef {
  /** @default 'public' */
  schema: string;
  /** At most 63 bytes. */
  name: string;
}

/** EventBridge Scheduler schedule of the pipeline. */
export interface ScheduleConfig {
  /** EventBridge Scheduler expression: `rate(...)`, `cron(...)` or `at(...)`. */
  expression: string;
  /** IANA time zone. @default 'UTC' */
  timezone: string;
  /** @default true */
  enabled: boolean;
  /**
   * Milliseconds without a successful run after which the freshness alarm fires (the file takes a duration
   * such as "1 hour"). @default three schedule intervals (none for `at(...)`)
   */
  max_staleness?: number;
}

/** How rows are picked and split into chunks. */
export interface SourceOptions {
  /** @default 'none' */
  incremental_strategy: IncrementalStrategy;
  /** Present exactly when `incremental_strategy` is `column`. */
  incremental_column?: string;
  /** Interval text such as `5 minutes` (spacing normalised) or a number for numeric cursors; absent when zero. */
  lookback?: string | number;
  /** @default 'fail' */
  null_cursor: NullCursorPolicy;
  /** Raw SQL AND-ed onto the extraction. */
  custom_predicate?: string;
  /** @default the single-column primary key, resolved at plan time */
  chunk_column?: string;
  /**
   * Target rows per chunk. @default 1,000,000, or fewer where the table's rows are wide: as many as fill
   * about 256 MiB of the table (its size with TOAST over its estimated rows), resolved at plan time.
   */
  chunk_rows?: number;
  /** @default 4 */
  max_parallel_chunks: number;
}

/** Where rows come from. */
export interface SourceConfig extends ConnectionConfig {
  /** The only source type. */
  type: 'postgres';
  /** Exactly one of `table` and `query` is present. */
  table?: TableRef;
  /** Raw SQL SELECT, used as written. */
  query?: string;
  /** Projection; absent means every column. */
  columns?: string[];
  /** @default every option at its default */
  options: SourceOptions;
}

/** Replaces every row of the target. */
export interface FullRefreshStrategy {
  mode: 'full_refresh';
  /** @default 'truncate_insert' */
  overwrite_type: OverwriteType;
}

/** Inserts the staged rows. */
export interface IncrementalAppendStrategy {
  mode: 'incremental_append';
  /** @default false */
  only_new_rows: boolean;
  /** Columns that identify a row; required by `only_new_rows` and by a lookback. */
  unique_key?: string[];
  /** @default 'fail' */
  duplicate_policy: DuplicatePolicy;
}

/** Replaces target rows by key with the staged ones. */
export interface IncrementalMergeStrategy {
  mode: 'incremental_merge';
  /** Columns that identify a row; non-empty, no repeats. */
  unique_key: string[];
  /** @default 'delete_insert' */
  merge_policy: MergePolicy;
  /** @default 'fail' */
  duplicate_policy: DuplicatePolicy;
}

/** Replaces the target rows a predicate selects. */
export interface ReplaceStrategy {
  mode: 'replace';
  /** Raw SQL selecting the target rows to replace. */
  custom_predicate: string;
}

/** Which partitions `partition_replace` swaps, and how. */
export interface PartitionConfig {
  /** Column whose values name the partitions to replace. */
  column: string;
  /** @default 'auto' */
  native_mode: NativeMode;
  /** @default 64 */
  max_partitions_per_run: number;
}

/** Replaces whole partitions of the target. */
export interface PartitionReplaceStrategy {
  mode: 'partition_replace';
  partition: PartitionConfig;
}

/** The load strategy, by `mode`. */
export type StrategyConfig = FullRefreshStrategy | IncrementalAppendStrategy | IncrementalMergeStrategy | ReplaceStrategy | PartitionReplaceStrategy;

/** Where rows go. */
export interface SinkConfig extends ConnectionConfig {
  /** The only sink type. */
  type: 'postgres';
  /** The target table. */
  table: TableRef;
  /** @default true */
  create_table: boolean;
  /** @default { schema: 'pgferry_staging' } */
  staging: { schema: string };
  /** How staged rows are applied to the target. */
  strategy: StrategyConfig;
}

/** Always present after parsing: an omitted state (or state connection) takes the sink's connection. */
export interface StateConfig extends ConnectionConfig {
  /** @default 'pgferry' */
  schema: string;
  /**
   * Milliseconds a lease lasts without renewal (the file takes a duration such as "15 minutes"). Every task
   * renews it while it works, so only a dead run loses it. @default 900000 (15 minutes)
   */
  lease_ttl: number;
}

/** One pipeline file, parsed, validated and with every default applied. */
export interface PipelineConfig {
  /** Unique per deployment; matches `PIPELINE_NAME_PATTERN`. */
  name: string;
  /** Absent: manual runs only. */
  schedule?: ScheduleConfig;
  /**
   * Milliseconds each task may take, below the invocation's own limit (the file takes a duration such as
   * "5 minutes", at most 15 minutes). @default the invocation's remaining time on AWS, 900 s locally
   */
  task_budget?: number;
  source: SourceConfig;
  sink: SinkConfig;
  /** Where cursor state and run records live. */
  state: StateConfig;
  /** A table of a file that lists `tables:`; `name` is then the table's state key `<file>/<schema.name>`. */
  table?: TableOfFile;
}

/** Which file, source table and entry a table's config comes from. */
export interface TableOfFile {
  /** The file's pipeline name. */
  file: string;
  /** The source table. */
  ref: TableRef;
  /** The position of its entry in `tables:`. */
  entry: number;
}

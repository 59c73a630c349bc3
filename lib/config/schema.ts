/**
 * The zod schema of a pipeline file (see docs/pipeline-file.md): shapes, types, single-value rules and defaults.
 * Rules that tie several keys together live in rules.ts, so they can run even when zod fails.
 */
import * as z from 'zod';
import { describeValue, expecting, expectingOneOf } from './messages.ts';
import { scheduleProblem } from './schedule.ts';
import {
  CONFIG_DEFAULTS,
  CONNECTION_TYPES,
  DUPLICATE_POLICIES,
  INCREMENTAL_STRATEGIES,
  MERGE_POLICIES,
  NATIVE_MODES,
  NULL_CURSOR_POLICIES,
  OVERWRITE_TYPES,
  PIPELINE_NAME_PATTERN,
  SSL_MODES,
  STRATEGY_MODES,
  type ConnectionParams,
  type PipelineConfig,
  type StateConfig,
} from './types.ts';
import {
  identifierProblem,
  readLeaseTtl,
  readTaskBudget,
  readLookback,
  readMaxStaleness,
  readPort,
  readSeconds,
  readStatementTimeout,
  sqlTextProblem,
  timezoneProblem,
  type Read,
} from './values.ts';

export * from './types.ts';

/** A string that `problem` accepts (it returns why not otherwise). */
function checkedString(what: string, problem: (value: string) => string | undefined, whenMissing?: string) {
  return z.string(expecting(what, whenMissing)).superRefine((value, ctx) => {
    const message = problem(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message, input: value });
  });
}

/** A value checked and normalised by one of the readers in values.ts. */
function readWith<T>(read: (input: unknown) => Read<T>) {
  return z.unknown().transform((input, ctx): T => {
    const result = read(input);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message, input });
    return z.NEVER;
  });
}

/** A mapping that refuses unknown keys, so a misspelt option fails validation instead of being ignored. */
function mapping<Shape extends z.core.$ZodLooseShape>(shape: Shape, what = 'a mapping', whenMissing?: string) {
  return z.strictObject(shape, expecting(what, whenMissing));
}

function oneOf<const Values extends readonly [string, ...string[]]>(values: Values, whenMissing?: string) {
  return z.enum(values, expectingOneOf(values, whenMissing));
}

function wholeNumber(min: number, max: number | undefined, what: string) {
  const number = z.int(expecting(what)).min(min, expecting(what));
  return max === undefined ? number : number.max(max, expecting(what));
}

const flag = () => z.boolean(expecting('true or false'));

const text = (what: string, whenMissing?: string) =>
  checkedString(what, (value) => (value.trim() === '' ? `expected ${what}, got ""` : undefined), whenMissing);

const identifier = (whenMissing?: string) => checkedString('a name (a non-empty string)', identifierProblem, whenMissing);

const sqlText = (what: string, whenMissing?: string) => checkedString(what, sqlTextProblem, whenMissing);

/** A list of column names, non-empty and without repeats. */
function columnList(whenMissing?: string) {
  const what = 'a non-empty list of column names';
  return z
    .array(identifier(), expecting(what, whenMissing))
    .min(1, expecting(what))
    .superRefine((columns, ctx) => {
      columns.forEach((column, index) => {
        if (columns.indexOf(column) !== index) {
          ctx.addIssue({ code: 'custom', path: [index], message: `${describeValue(column)} is listed twice`, input: column });
        }
      });
    });
}

const postgresType = () => z.literal('postgres', expectingOneOf(['postgres']));

const connectionParams = mapping({
  host: text('a host name').optional(),
  port: readWith(readPort).optional(),
  database: text('a database name').optional(),
  dbname: text('a database name').optional(),
  username: text('a user name').optional(),
  user: text('a user name').optional(),
  sslmode: oneOf(SSL_MODES).optional(),
  sslrootcert: text('a file path').optional(),
  application_name: text('an application name').optional(),
  connect_timeout: readWith(readSeconds).optional(),
  statement_timeout: readWith(readStatementTimeout).optional(),
}).transform(
  // `database` and `username` are the canonical names and win when an alias (`dbname`, `user`) is also given.
  ({ dbname, user, ...params }): ConnectionParams => ({ ...params, database: params.database ?? dbname, username: params.username ?? user }),
);

const connectionId = () => text('a connection id: a secret name or ARN, an env connection id, or a postgres URL');

const connectionFields = {
  connection_id: connectionId(),
  connection_type: oneOf(CONNECTION_TYPES).default(CONFIG_DEFAULTS.connectionType),
  connection_params: connectionParams.prefault({}),
};

const tableRef = (whenMissing?: string) =>
  mapping({ schema: identifier().default(CONFIG_DEFAULTS.tableSchema), name: identifier() }, 'a mapping {schema, name}', whenMissing);

const scheduleSchema = mapping({
  expression: checkedString('a schedule expression: rate(...), cron(...) or at(...)', scheduleProblem),
  timezone: checkedString('an IANA time zone', timezoneProblem).default(CONFIG_DEFAULTS.timezone),
  enabled: flag().default(CONFIG_DEFAULTS.scheduleEnabled),
  max_staleness: readWith(readMaxStaleness).optional(),
});

const sourceOptions = mapping({
  incremental_strategy: oneOf(INCREMENTAL_STRATEGIES).default(CONFIG_DEFAULTS.incrementalStrategy),
  incremental_column: identifier().optional(),
  lookback: readWith(readLookback).optional(),
  null_cursor: oneOf(NULL_CURSOR_POLICIES).default(CONFIG_DEFAULTS.nullCursor),
  custom_predicate: sqlText('a SQL condition').optional(),
  chunk_column: identifier().optional(),
  chunk_rows: wholeNumber(CONFIG_DEFAULTS.minChunkRows, undefined, `an integer of at least ${CONFIG_DEFAULTS.minChunkRows}`).optional(),
  max_parallel_chunks: wholeNumber(1, 256, 'an integer from 1 to 256').default(CONFIG_DEFAULTS.maxParallelChunks),
});

const sourceSchema = mapping({
  type: postgresType(),
  ...connectionFields,
  table: tableRef().optional(),
  query: sqlText('a SELECT statement').optional(),
  columns: columnList().optional(),
  options: sourceOptions.prefault({}),
});

const modes = STRATEGY_MODES.join(', ');

/** Words a missing or unknown `mode`, and a strategy that is not a mapping at all. */
function strategyMessage(issue: z.core.$ZodRawIssue): string {
  if (issue.code === 'invalid_union') {
    const mode = (issue.input as { mode?: unknown } | undefined)?.mode;
    return mode === undefined ? `required; allowed: ${modes}` : `expected one of ${modes}, got ${describeValue(mode)}`;
  }
  const what = `a mapping with a mode (one of ${modes})`;
  return issue.input === undefined ? `required; expected ${what}` : `expected ${what}, got ${describeValue(issue.input)}`;
}

const duplicatePolicy = () => oneOf(DUPLICATE_POLICIES).default(CONFIG_DEFAULTS.duplicatePolicy);

const strategySchema = z.discriminatedUnion(
  'mode',
  [
    mapping({ mode: z.literal('full_refresh'), overwrite_type: oneOf(OVERWRITE_TYPES).default(CONFIG_DEFAULTS.overwriteType) }),
    mapping({
      mode: z.literal('incremental_append'),
      only_new_rows: flag().default(CONFIG_DEFAULTS.onlyNewRows),
      unique_key: columnList().optional(),
      duplicate_policy: duplicatePolicy(),
    }),
    mapping({
      mode: z.literal('incremental_merge'),
      unique_key: columnList('required when mode is incremental_merge'),
      merge_policy: oneOf(MERGE_POLICIES).default(CONFIG_DEFAULTS.mergePolicy),
      duplicate_policy: duplicatePolicy(),
    }),
    mapping({ mode: z.literal('replace'), custom_predicate: sqlText('a SQL condition', 'required when mode is replace') }),
    mapping({
      mode: z.literal('partition_replace'),
      partition: mapping(
        {
          column: identifier('required; expected the name of the partition column'),
          native_mode: oneOf(NATIVE_MODES).default(CONFIG_DEFAULTS.nativeMode),
          max_partitions_per_run: wholeNumber(1, undefined, 'a positive integer').default(CONFIG_DEFAULTS.maxPartitionsPerRun),
        },
        'a mapping {column, native_mode, max_partitions_per_run}',
        'required when mode is partition_replace',
      ),
    }),
  ],
  { error: strategyMessage },
);

const sinkSchema = mapping({
  type: postgresType(),
  ...connectionFields,
  table: tableRef(),
  create_table: flag().default(CONFIG_DEFAULTS.createTable),
  staging: mapping({ schema: identifier().default(CONFIG_DEFAULTS.stagingSchema) }).prefault({}),
  strategy: strategySchema,
});

// No defaults on the connection here: without a connection_id the state takes the sink's, whole.
const stateSchema = mapping({
  connection_id: connectionId().optional(),
  connection_type: oneOf(CONNECTION_TYPES).optional(),
  connection_params: connectionParams.optional(),
  schema: identifier().default(CONFIG_DEFAULTS.stateSchema),
  lease_ttl: readWith(readLeaseTtl).default(CONFIG_DEFAULTS.leaseTtlMs),
});

const NAME_RULE = `a pipeline name matching ${PIPELINE_NAME_PATTERN.source} (a lower-case letter, then lower-case letters, digits, _ or -; at most 63)`;

/** Keys of the parsed, defaults-applied pipeline; `state` is filled from the sink afterwards. */
export const PipelineSchema = mapping({
  name: z.string(expecting(NAME_RULE)).regex(PIPELINE_NAME_PATTERN, expecting(NAME_RULE)),
  schedule: scheduleSchema.optional(),
  task_budget: readWith(readTaskBudget).optional(),
  source: sourceSchema,
  sink: sinkSchema,
  state: stateSchema.prefault({}),
}).transform(({ state, ...pipeline }): PipelineConfig => {
  const { sink } = pipeline;
  const resolved: StateConfig =
    state.connection_id === undefined
      ? {
          connection_id: sink.connection_id,
          connection_type: sink.connection_type,
          connection_params: { ...sink.connection_params },
          schema: state.schema,
          lease_ttl: state.lease_ttl,
        }
      : {
          connection_id: state.connection_id,
          connection_type: state.connection_type ?? CONFIG_DEFAULTS.connectionType,
          connection_params: state.connection_params ?? {},
          schema: state.schema,
          lease_ttl: state.lease_ttl,
        };
  return withoutUndefined({ ...pipeline, state: resolved });
});

/** Drops keys whose value is undefined, so optional keys are absent rather than present-but-undefined. */
function withoutUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutUndefined) as T;
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return Object.fromEntries(entries.map(([k, v]) => [k, withoutUndefined(v)])) as T;
}

/**
 * Hostile pipeline files: one table of bad files, each with the key path and the message it
 * must be refused with, printed as `file: path: message`. The per-rule tests live in config-*.test.ts; this
 * table is the catalogue of what a user can get wrong.
 */
import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../../lib/config/index.ts';
import { ConfigError, formatProblem, type ConfigProblem } from '../../lib/errors.ts';
import { pipelineYaml } from '../helpers/config-yaml.ts';

const FILE = 'pipelines/hostile.yaml';

type Doc = Record<string, unknown>;

const yaml = pipelineYaml;

function problemsOf(text: string): ConfigProblem[] {
  try {
    parsePipeline(text, FILE);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

const column = (extra: Doc = {}): Doc => ({ incremental_strategy: 'column', incremental_column: 'updated_at', ...extra });
const euros = (n: number): string => '€'.repeat(n);
const S3CRET = 'S3cret-hostile-pw';

interface Case {
  /** What is wrong. */
  readonly case: string;
  /** The file's text. */
  readonly text: string;
  /** The key path the problem must name ('' for the whole file). */
  readonly path: string;
  /** A substring of its message. */
  readonly message: string;
  /** How many problems the file has in all. @default 1 */
  readonly count?: number;
}

const CASES: readonly Case[] = [
  // Wrong types
  {
    case: 'a number as the pipeline name',
    text: yaml({ name: 42 }),
    path: 'name',
    message: 'expected a pipeline name matching ^[a-z][a-z0-9_-]{0,62}$ (a lower-case letter, then lower-case letters, digits, _ or -; at most 63), got 42',
  },
  { case: 'an upper-case pipeline name', text: yaml({ name: 'Orders' }), path: 'name', message: 'got "Orders"' },
  { case: 'source as a string', text: yaml({ source: 'pg' }), path: 'source', message: 'expected a mapping, got "pg"' },
  { case: 'schedule as a string', text: yaml({ schedule: 'daily' }), path: 'schedule', message: 'expected a mapping, got "daily"' },
  {
    case: 'a list as table name',
    text: yaml({ 'source.table.name': ['orders'] }),
    path: 'source.table.name',
    message: 'expected a name (a non-empty string), got a list',
  },
  {
    case: 'a mapping as columns',
    text: yaml({ 'source.columns': { id: 1 } }),
    path: 'source.columns',
    message: 'expected a non-empty list of column names, got a mapping',
  },
  {
    case: 'a string as unique_key',
    text: yaml({ 'sink.strategy': { mode: 'incremental_merge', unique_key: 'id' } }),
    path: 'sink.strategy.unique_key',
    message: 'expected a non-empty list of column names, got "id"',
  },
  {
    case: 'a null in unique_key',
    text: yaml({ 'sink.strategy': { mode: 'incremental_merge', unique_key: [null] } }),
    path: 'sink.strategy.unique_key[0]',
    message: 'expected a name (a non-empty string), got null',
  },
  {
    case: 'a string as chunk_rows',
    text: yaml({ 'source.options.chunk_rows': 'many' }),
    path: 'source.options.chunk_rows',
    message: 'expected an integer of at least 10, got "many"',
  },
  {
    case: 'a negative chunk_rows',
    text: yaml({ 'source.options.chunk_rows': -5 }),
    path: 'source.options.chunk_rows',
    message: 'expected an integer of at least 10, got -5',
  },
  {
    case: 'too many parallel chunks',
    text: yaml({ 'source.options.max_parallel_chunks': 1000 }),
    path: 'source.options.max_parallel_chunks',
    message: 'expected an integer from 1 to 256, got 1000',
  },
  { case: 'a number as create_table', text: yaml({ 'sink.create_table': 1 }), path: 'sink.create_table', message: 'expected true or false, got 1' },
  {
    case: 'a string as only_new_rows',
    text: yaml({ 'sink.strategy': { mode: 'incremental_append', only_new_rows: 'yes' } }),
    path: 'sink.strategy.only_new_rows',
    message: 'expected true or false, got "yes"',
  },
  {
    case: 'a list as strategy',
    text: yaml({ 'sink.strategy': ['full_refresh'] }),
    path: 'sink.strategy',
    message: 'expected a mapping with a mode (one of full_refresh, incremental_append, incremental_merge, replace, partition_replace), got a list',
  },
  {
    case: 'a number as mode',
    text: yaml({ 'sink.strategy.mode': 3 }),
    path: 'sink.strategy.mode',
    message: 'expected one of full_refresh, incremental_append, incremental_merge, replace, partition_replace, got 3',
  },
  {
    case: 'an unknown incremental strategy',
    text: yaml({ 'source.options.incremental_strategy': 'cdc' }),
    path: 'source.options.incremental_strategy',
    message: 'expected one of none, column, xmin, got "cdc"',
  },
  { case: 'a number as state schema', text: yaml({ 'state.schema': 5 }), path: 'state.schema', message: 'expected a name (a non-empty string), got 5' },
  {
    case: 'a word as connect_timeout',
    text: yaml({ 'source.connection_params.connect_timeout': 'soon' }),
    path: 'source.connection_params.connect_timeout',
    message: 'expected a whole number of seconds (0 or more), got "soon"',
  },
  {
    case: 'an unknown sslmode',
    text: yaml({ 'sink.connection_params.sslmode': 'prefer' }),
    path: 'sink.connection_params.sslmode',
    message: 'expected one of disable, require, verify-ca, verify-full, got "prefer"',
  },

  // Unknown keys, top level and nested
  {
    case: 'an unknown top-level key',
    text: yaml({ extra: true }),
    path: 'extra',
    message: 'unknown key; allowed: name, schedule, task_budget, source, sink, state',
  },
  {
    case: 'a misspelt source key',
    text: yaml({ 'source.tabel': { name: 'x' } }),
    path: 'source.tabel',
    message: 'unknown key; allowed: type, connection_id, connection_type, connection_params, table, query, columns, options',
  },
  {
    case: 'an unknown option',
    text: yaml({ 'source.options.chunk_size': 5000 }),
    path: 'source.options.chunk_size',
    message: 'unknown key; allowed: incremental_strategy, incremental_column, lookback',
  },
  { case: 'an unknown key in a table', text: yaml({ 'source.table.owner': 'me' }), path: 'source.table.owner', message: 'unknown key; allowed: schema, name' },
  { case: 'an unknown key in staging', text: yaml({ 'sink.staging.name': 'stage' }), path: 'sink.staging.name', message: 'unknown key; allowed: schema' },
  {
    case: 'an unknown schedule key',
    text: yaml({ schedule: { expression: 'rate(1 day)', tz: 'UTC' } }),
    path: 'schedule.tz',
    message: 'unknown key; allowed: expression, timezone, enabled',
  },
  {
    case: 'an unknown state key',
    text: yaml({ 'state.lease_seconds': 60 }),
    path: 'state.lease_seconds',
    message: 'unknown key; allowed: connection_id, connection_type, connection_params, schema',
  },
  {
    case: 'an unknown connection param',
    text: yaml({ 'source.connection_params.hostname': 'db' }),
    path: 'source.connection_params.hostname',
    message: 'unknown key; allowed: host, port, database, dbname, username, user, sslmode',
  },
  {
    case: 'a key of another strategy mode',
    text: yaml({ 'sink.strategy': { mode: 'full_refresh', unique_key: ['id'] } }),
    path: 'sink.strategy.unique_key',
    message: 'not allowed when mode is full_refresh',
  },
  {
    case: 'an unknown key three levels down',
    text: yaml({ 'sink.strategy': { mode: 'partition_replace', partition: { column: 'day', columns: ['day'] } } }),
    path: 'sink.strategy.partition.columns',
    message: 'unknown key; allowed: column, native_mode, max_partitions_per_run',
  },

  // Missing required keys
  { case: 'no name', text: yaml({ name: undefined }), path: 'name', message: 'required; expected a pipeline name' },
  { case: 'no source', text: yaml({ source: undefined }), path: 'source', message: 'required; expected a mapping' },
  { case: 'no source type', text: yaml({ 'source.type': undefined }), path: 'source.type', message: 'required; allowed: postgres' },
  { case: 'no connection_id', text: yaml({ 'sink.connection_id': undefined }), path: 'sink.connection_id', message: 'required; expected a connection id' },
  { case: 'no sink table', text: yaml({ 'sink.table': undefined }), path: 'sink.table', message: 'required; expected a mapping {schema, name}' },
  { case: 'no table name', text: yaml({ 'sink.table.name': undefined }), path: 'sink.table.name', message: 'required; expected a name (a non-empty string)' },
  {
    case: 'no strategy mode',
    text: yaml({ 'sink.strategy': {} }),
    path: 'sink.strategy.mode',
    message: 'required; allowed: full_refresh, incremental_append, incremental_merge, replace, partition_replace',
  },
  { case: 'neither table nor query', text: yaml({ 'source.table': undefined }), path: 'source', message: 'one of table or query is required' },
  {
    case: 'a schedule without expression',
    text: yaml({ schedule: { timezone: 'UTC' } }),
    path: 'schedule.expression',
    message: 'required; expected a schedule expression',
  },
  {
    case: 'partition_replace without partition',
    text: yaml({ 'sink.strategy': { mode: 'partition_replace' } }),
    path: 'sink.strategy.partition',
    message: 'required when mode is partition_replace',
  },

  // Conflicting options
  {
    case: 'table and query',
    text: yaml({ 'source.query': 'SELECT 1' }),
    path: 'source.query',
    message: 'not allowed together with source.table; give exactly one of table and query',
  },
  {
    case: 'incremental_column without the column strategy',
    text: yaml({ 'source.options': { incremental_column: 'updated_at' } }),
    path: 'source.options.incremental_column',
    message: 'not allowed when incremental_strategy is none; only with column',
  },
  {
    case: 'the column strategy without incremental_column',
    text: yaml({ 'source.options': { incremental_strategy: 'column' } }),
    path: 'source.options.incremental_column',
    message: 'required when incremental_strategy is column',
  },
  {
    case: 'lookback without the column strategy',
    text: yaml({ 'source.options': { incremental_strategy: 'xmin', lookback: '5 minutes' } }),
    path: 'source.options.lookback',
    message: 'not allowed when incremental_strategy is xmin; only with column',
  },
  {
    case: 'lookback with plain append and no unique_key',
    text: yaml({ 'source.options': column({ lookback: '5 minutes' }), 'sink.strategy': { mode: 'incremental_append' } }),
    path: 'source.options.lookback',
    message: 'a lookback re-reads rows already loaded, so with mode incremental_append it needs sink.strategy.unique_key; or use incremental_merge',
  },
  {
    case: 'only_new_rows without unique_key',
    text: yaml({ 'sink.strategy': { mode: 'incremental_append', only_new_rows: true } }),
    path: 'sink.strategy.unique_key',
    message: 'required when only_new_rows is true',
  },
  {
    case: 'xmin with a query',
    text: yaml({ 'source.table': undefined, 'source.query': 'SELECT * FROM orders', 'source.options': { incremental_strategy: 'xmin' } }),
    path: 'source.options.incremental_strategy',
    message: 'xmin needs source.table; a query has no xmin',
  },
  {
    case: 'xmin with append but not only_new_rows',
    text: yaml({ 'source.options': { incremental_strategy: 'xmin' }, 'sink.strategy': { mode: 'incremental_append', unique_key: ['id'] } }),
    path: 'sink.strategy.only_new_rows',
    message: 'must be true with incremental_strategy xmin',
  },
  {
    case: 'replace without custom_predicate',
    text: yaml({ 'sink.strategy': { mode: 'replace' } }),
    path: 'sink.strategy.custom_predicate',
    message: 'required when mode is replace',
  },
  {
    case: 'merge without unique_key',
    text: yaml({ 'sink.strategy': { mode: 'incremental_merge' } }),
    path: 'sink.strategy.unique_key',
    message: 'required when mode is incremental_merge',
  },
  {
    case: 'a duplicated unique_key column',
    text: yaml({ 'sink.strategy': { mode: 'incremental_merge', unique_key: ['id', 'tenant', 'id'] } }),
    path: 'sink.strategy.unique_key[2]',
    message: '"id" is listed twice',
  },
  {
    case: 'keep_last on append without unique_key',
    text: yaml({ 'sink.strategy': { mode: 'incremental_append', duplicate_policy: 'keep_last' } }),
    path: 'sink.strategy.duplicate_policy',
    message: 'keep_last needs sink.strategy.unique_key',
  },
  {
    case: 'a unique_key outside the projection',
    text: yaml({ 'source.columns': ['order_id'], 'sink.strategy': { mode: 'incremental_merge', unique_key: ['id'] } }),
    path: 'sink.strategy.unique_key[0]',
    message: 'column "id" is not in source.columns',
  },
  {
    case: "a state connection_type without the state's own connection",
    text: yaml({ state: { connection_type: 'env' } }),
    path: 'state.connection_type',
    message: 'only together with state.connection_id',
  },

  // Identifiers
  {
    case: 'a 64-byte table name',
    text: yaml({ 'source.table.name': 'x'.repeat(64) }),
    path: 'source.table.name',
    message: "expected at most 63 bytes (PostgreSQL's limit on names), got 64 bytes",
  },
  {
    case: 'a 22-character, 66-byte multi-byte name',
    text: yaml({ 'sink.table.name': euros(22) }),
    path: 'sink.table.name',
    message: "expected at most 63 bytes (PostgreSQL's limit on names), got 66 bytes",
  },
  {
    case: 'a 64-byte multi-byte column in unique_key',
    text: yaml({ 'sink.strategy': { mode: 'incremental_merge', unique_key: [`${euros(21)}x`] } }),
    path: 'sink.strategy.unique_key[0]',
    message: 'got 64 bytes',
  },
  { case: 'a 64-byte staging schema', text: yaml({ 'sink.staging.schema': 'é'.repeat(32) }), path: 'sink.staging.schema', message: 'got 64 bytes' },
  { case: 'a NUL in a table name', text: yaml({ 'source.table.name': 'ord\0ers' }), path: 'source.table.name', message: 'must not contain a NUL character' },
  {
    case: 'a NUL in a column name',
    text: yaml({ 'source.options': column({ incremental_column: 'up\0dated' }) }),
    path: 'source.options.incremental_column',
    message: 'must not contain a NUL character',
  },
  { case: 'a NUL in the state schema', text: yaml({ 'state.schema': 'pg\0ferry' }), path: 'state.schema', message: 'must not contain a NUL character' },
  { case: 'an empty schema name', text: yaml({ 'source.table.schema': '' }), path: 'source.table.schema', message: 'expected a non-empty name, got ""' },
  {
    case: 'a NUL in raw SQL',
    text: yaml({ 'source.options.custom_predicate': 'a = 1\0' }),
    path: 'source.options.custom_predicate',
    message: 'must not contain a NUL character',
  },
  {
    case: 'a raw SQL fragment ending the statement',
    text: yaml({ 'source.options.custom_predicate': 'tenant = 7; DROP TABLE canary;' }),
    path: 'source.options.custom_predicate',
    message: 'must not end with a semicolon',
  },

  // Schedules and time zones
  {
    case: 'a schedule in words',
    text: yaml({ schedule: { expression: 'every day' } }),
    path: 'schedule.expression',
    message: 'expected rate(<n> <minute|minutes|hour|hours|day|days>), cron(<6 fields>) or at(yyyy-mm-ddThh:mm:ss), got "every day"',
  },
  {
    case: 'a rate with the wrong plural',
    text: yaml({ schedule: { expression: 'rate(5 minute)' } }),
    path: 'schedule.expression',
    message: 'use the plural unit with 5: rate(5 minutes)',
  },
  { case: 'a five-field cron', text: yaml({ schedule: { expression: 'cron(0 12 * * ?)' } }), path: 'schedule.expression', message: 'with 6 fields, got 5' },
  {
    case: 'a cron with both day fields set',
    text: yaml({ schedule: { expression: 'cron(0 12 1 * MON *)' } }),
    path: 'schedule.expression',
    message: 'exactly one of day-of-month and day-of-week must be ?',
  },
  {
    case: 'an at() that is no date',
    text: yaml({ schedule: { expression: 'at(2026-02-30T10:00:00)' } }),
    path: 'schedule.expression',
    message: '"2026-02-30T10:00:00" is not a real date and time',
  },
  { case: 'a number as schedule', text: yaml({ schedule: { expression: 5 } }), path: 'schedule.expression', message: 'got 5' },
  {
    case: 'an unknown time zone',
    text: yaml({ schedule: { expression: 'rate(1 day)', timezone: 'Mars/Olympus_Mons' } }),
    path: 'schedule.timezone',
    message: 'expected an IANA time zone such as Europe/Berlin or UTC, got "Mars/Olympus_Mons"',
  },
  { case: 'an empty time zone', text: yaml({ schedule: { expression: 'rate(1 day)', timezone: '' } }), path: 'schedule.timezone', message: 'got ""' },

  // Connections
  {
    case: 'port 0',
    text: yaml({ 'source.connection_params.port': 0 }),
    path: 'source.connection_params.port',
    message: 'expected a port number from 1 to 65535, got 0',
  },
  {
    case: 'port 70000',
    text: yaml({ 'source.connection_params.port': 70000 }),
    path: 'source.connection_params.port',
    message: 'expected a port number from 1 to 65535, got 70000',
  },
  { case: 'a port with letters', text: yaml({ 'sink.connection_params.port': '54x' }), path: 'sink.connection_params.port', message: 'got "54x"' },
  {
    case: 'a password in connection_params',
    text: yaml({ 'source.connection_params.password': S3CRET }),
    path: 'source.connection_params.password',
    message:
      'not allowed: keep the password in the secret (connection_type: secretsmanager), the environment (PGFERRY_CONN_<ID>_PASSWORD) or the url (connection_type: url)',
  },
  {
    case: "a password in the state's connection_params",
    text: yaml({ state: { connection_id: 'ops', connection_type: 'env', connection_params: { password: S3CRET } } }),
    path: 'state.connection_params.password',
    message: 'not allowed: keep the password in the secret',
  },
  {
    case: 'a url that is not postgres://',
    text: yaml({ 'sink.connection_type': 'url', 'sink.connection_id': `mysql://etl:${S3CRET}@db/shop` }),
    path: 'sink.connection_id',
    message: 'expected a postgres:// or postgresql:// URL when connection_type is url, got "mysql://etl:***@db/shop"',
  },
  {
    case: 'a url without a scheme',
    text: yaml({ 'sink.connection_type': 'url', 'sink.connection_id': `etl:${S3CRET}@localhost:5432/db` }),
    path: 'sink.connection_id',
    message: 'got "etl:***@localhost:5432/db"',
  },
  {
    case: 'a url given as a secret name',
    text: yaml({ 'source.connection_id': `postgres://etl:${S3CRET}@db/shop` }),
    path: 'source.connection_id',
    message: 'looks like a URL; set connection_type: url to use it as one',
  },
  {
    case: 'an unknown connection type',
    text: yaml({ 'source.connection_type': 'vault' }),
    path: 'source.connection_type',
    message: 'expected one of secretsmanager, env, url, got "vault"',
  },

  // Whole files
  { case: 'a YAML syntax error', text: 'name: orders\nsource:\n  table: [a, b\nsink: {}\n', path: '', message: 'YAML syntax error: ' },
  {
    case: 'tabs as indentation',
    text: 'name: orders\nsource:\n\ttype: postgres\n',
    path: '',
    message: 'YAML syntax error: Tabs are not allowed as indentation at line 3, column 1',
  },
  { case: 'a key given twice', text: `${yaml()}name: again\n`, path: '', message: 'YAML syntax error: Map keys must be unique at line 16, column 1' },
  {
    case: 'two YAML documents',
    text: `${yaml()}---\nname: second\n`,
    path: '',
    message: 'YAML syntax error: the file holds more than one YAML document (a second ---); a pipeline file holds exactly one pipeline',
  },
  { case: 'an alias cycle', text: 'a: &x [*x]\n', path: '', message: 'YAML cannot be read: an alias (*name) refers to a node that contains it' },
  { case: 'an empty file', text: '', path: '', message: 'the file is empty; expected a pipeline mapping (name, source, sink ...)' },
  { case: 'a file of comments only', text: '# nothing yet\n', path: '', message: 'the file is empty' },
  {
    case: 'a list at the top level',
    text: '- name: orders\n',
    path: '',
    message: 'expected a pipeline mapping (name, source, sink ...) at the top level, got a list',
  },
  { case: 'a scalar at the top level', text: '42\n', path: '', message: 'at the top level, got 42' },
];

describe('Feature: hostile pipeline files are refused with the file, the key path and what is allowed', () => {
  it('has the table of cases the issue asks for', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES)('$case', ({ text, path, message, count }) => {
    const problems = problemsOf(text);
    const found = problems.find((p) => p.path === path && p.message.includes(message));
    expect(found, `no problem at ${JSON.stringify(path)} containing ${JSON.stringify(message)} in ${JSON.stringify(problems)}`).toBeDefined();
    const problem = found as ConfigProblem;
    expect(problem.file).toBe(FILE);
    expect(formatProblem(problem)).toBe(path === '' ? `${FILE}: ${problem.message}` : `${FILE}: ${path}: ${problem.message}`);
    expect(problems).toHaveLength(count ?? 1);
  });

  it('every message is in the ConfigError, one `file: path: message` line per problem', () => {
    for (const { text } of CASES) {
      let message = '';
      try {
        parsePipeline(text, FILE);
      } catch (error) {
        message = (error as ConfigError).message;
      }
      for (const line of message.split('\n')) expect(line.startsWith(`${FILE}: `), line).toBe(true);
    }
  });

  it('no message shows a password, whatever the case', () => {
    for (const { text } of CASES) {
      for (const problem of problemsOf(text)) expect(formatProblem(problem)).not.toContain(S3CRET);
    }
  });

  it('reports every problem of a hostile file at once, in file order', () => {
    const text = yaml({
      name: 'Bad Name',
      'source.query': 'SELECT 1',
      'source.options': { incremental_column: 'up\0dated', chunk_rows: 0 },
      'sink.table.name': euros(22),
      'sink.connection_params': { password: S3CRET, port: 70000 },
      'sink.strategy': { mode: 'incremental_merge', unique_key: ['id', 'id'] },
      extra: 1,
    });
    expect(problemsOf(text).map(formatProblem)).toEqual([
      expect.stringMatching(/^pipelines\/hostile\.yaml: name: expected a pipeline name/),
      'pipelines/hostile.yaml: source.query: not allowed together with source.table; give exactly one of table and query',
      'pipelines/hostile.yaml: source.options.incremental_column: must not contain a NUL character',
      'pipelines/hostile.yaml: source.options.incremental_column: not allowed when incremental_strategy is none; only with column',
      'pipelines/hostile.yaml: source.options.chunk_rows: expected an integer of at least 10, got 0',
      expect.stringMatching(/^pipelines\/hostile\.yaml: sink\.table\.name: expected at most 63 bytes .* got 66 bytes/),
      'pipelines/hostile.yaml: sink.strategy.unique_key[1]: "id" is listed twice',
      // connection_params comes after strategy in this file.
      expect.stringMatching(/^pipelines\/hostile\.yaml: sink\.connection_params\.password: not allowed/),
      'pipelines/hostile.yaml: sink.connection_params.port: expected a port number from 1 to 65535, got 70000',
      expect.stringMatching(/^pipelines\/hostile\.yaml: extra: unknown key/),
    ]);
  });

  it('accepts names at the limit: 63 bytes, multi-byte, quotes, reserved words, SQL punctuation', () => {
    const config = parsePipeline(
      yaml({
        'source.table': { schema: 'Weird "S"; DROP TABLE canary;--', name: `${euros(21)}` },
        'source.options': column({ incremental_column: 'select', chunk_column: '"a"."b"' }),
        'sink.table': { schema: "it's", name: 'x'.repeat(63) },
        'sink.staging.schema': '$$ /* -- */',
        'sink.strategy': { mode: 'incremental_merge', unique_key: ['user', 'order', 'table', '$1', '%s'] },
        'state.schema': 'é'.repeat(31),
      }),
      FILE,
    );
    expect(config.source.table).toEqual({ schema: 'Weird "S"; DROP TABLE canary;--', name: euros(21) });
    expect(config.sink.strategy).toMatchObject({ unique_key: ['user', 'order', 'table', '$1', '%s'] });
  });
});

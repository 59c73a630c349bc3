import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../../lib/config/index.ts';
import { ConfigError } from '../../lib/errors.ts';
import { pipelineYaml, problemsOf } from '../helpers/config-yaml.ts';

type Doc = Record<string, unknown>;

const column = (extra: Doc = {}) => ({ incremental_strategy: 'column', incremental_column: 'updated_at', ...extra });

describe('Function: parsePipeline', () => {
  // Each row: a change to a valid pipeline, and the one problem it must cause.
  it.each<[string, unknown, string]>([
    ['name', undefined, 'name: required; expected a pipeline name matching ^[a-z][a-z0-9_-]{0,62}$'],
    [
      'name',
      'Orders',
      'name: expected a pipeline name matching ^[a-z][a-z0-9_-]{0,62}$ (a lower-case letter, then lower-case letters, digits, _ or -; at most 63), got "Orders"',
    ],
    ['name', '1orders', 'got "1orders"'],
    ['name', `o${'x'.repeat(63)}`, 'name: expected a pipeline name'],
    [
      'name',
      42,
      'name: expected a pipeline name matching ^[a-z][a-z0-9_-]{0,62}$ (a lower-case letter, then lower-case letters, digits, _ or -; at most 63), got 42',
    ],
    ['schedule', 'daily', 'schedule: expected a mapping, got "daily"'],
    ['schedule', { timezone: 'UTC' }, 'schedule.expression: required; expected a schedule expression'],
    [
      'schedule.expression',
      'every day',
      'schedule.expression: expected rate(<n> <minute|minutes|hour|hours|day|days>), cron(<6 fields>) or at(yyyy-mm-ddThh:mm:ss), got "every day"',
    ],
    ['schedule.expression', 'rate(1 minutes)', 'schedule.expression: use the singular unit with 1: rate(1 minute)'],
    ['schedule.expression', 'rate(5 hour)', 'schedule.expression: use the plural unit with 5: rate(5 hours)'],
    ['schedule.expression', 'rate(0 minutes)', 'schedule.expression: expected rate(<positive whole number>'],
    ['schedule.expression', 'rate(2 weeks)', 'schedule.expression: expected rate(<positive whole number>'],
    ['schedule.expression', 'cron(0 12 * * ?)', 'schedule.expression: expected cron(<minutes hours day-of-month month day-of-week year>) with 6 fields, got 5'],
    ['schedule.expression', 'cron(0 12 * * * *)', 'schedule.expression: exactly one of day-of-month and day-of-week must be ?'],
    ['schedule.expression', 'at(2026-02-30T10:00:00)', 'schedule.expression: "2026-02-30T10:00:00" is not a real date and time'],
    ['schedule.expression', 'at(2026-02-03 10:00)', 'schedule.expression: expected at(yyyy-mm-ddThh:mm:ss)'],
    [
      'schedule',
      { expression: 'rate(1 day)', timezone: 'Mars/Olympus_Mons' },
      'schedule.timezone: expected an IANA time zone such as Europe/Berlin or UTC, got "Mars/Olympus_Mons"',
    ],
    ['schedule', { expression: 'rate(1 day)', enabled: 'yes' }, 'schedule.enabled: expected true or false, got "yes"'],
    ['source', undefined, 'source: required; expected a mapping'],
    ['source.type', 'mysql', 'source.type: expected one of postgres, got "mysql"'],
    ['source.type', undefined, 'source.type: required; allowed: postgres'],
    ['source.connection_id', undefined, 'source.connection_id: required; expected a connection id'],
    ['source.connection_id', '', 'source.connection_id: expected a connection id: a secret name or ARN, an env connection id, or a postgres URL, got ""'],
    ['source.connection_id', 7, 'source.connection_id: expected a connection id: a secret name or ARN, an env connection id, or a postgres URL, got 7'],
    ['source.connection_type', 'vault', 'source.connection_type: expected one of secretsmanager, env, url, got "vault"'],
    ['source.connection_params', 'host=db', 'source.connection_params: expected a mapping, got "host=db"'],
    ['source.connection_params.host', '', 'source.connection_params.host: expected a host name, got ""'],
    ['source.connection_params.port', 'abc', 'source.connection_params.port: expected a port number from 1 to 65535, got "abc"'],
    ['source.connection_params.port', 70000, 'source.connection_params.port: expected a port number from 1 to 65535, got 70000'],
    ['source.connection_params.port', 54.5, 'got 54.5'],
    ['source.connection_params.sslmode', 'prefer', 'source.connection_params.sslmode: expected one of disable, require, verify-ca, verify-full, got "prefer"'],
    ['source.connection_params.connect_timeout', -1, 'source.connection_params.connect_timeout: expected a whole number of seconds (0 or more), got -1'],
    [
      'source.connection_params.statement_timeout',
      'soon',
      'source.connection_params.statement_timeout: expected milliseconds or a duration such as "30s", "5min" or "2 minutes", got "soon"',
    ],
    ['source.connection_params.statement_timeout', '5 parsecs', 'source.connection_params.statement_timeout: unknown unit "parsecs"'],
    ['source.connection_params.statement_timeout', -5, 'got -5'],
    [
      'source.connection_params.password',
      'hunter2',
      'source.connection_params.password: not allowed: keep the password in the secret (connection_type: secretsmanager), the environment (PGFERRY_CONN_<ID>_PASSWORD) or the url (connection_type: url)',
    ],
    [
      'source.connection_params.hostname',
      'db',
      'source.connection_params.hostname: unknown key; allowed: host, port, database, dbname, username, user, sslmode',
    ],
    ['source.table', 'public.orders', 'source.table: expected a mapping {schema, name}, got "public.orders"'],
    ['source.table.name', undefined, 'source.table.name: required; expected a name (a non-empty string)'],
    ['source.table.schema', '', 'source.table.schema: expected a non-empty name, got ""'],
    ['source.table.name', 'ord\0ers', 'source.table.name: must not contain a NUL character'],
    ['source.table.owner', 'me', 'source.table.owner: unknown key; allowed: schema, name'],
    ['source.columns', [], 'source.columns: expected a non-empty list of column names, got an empty list'],
    ['source.columns', 'id', 'source.columns: expected a non-empty list of column names, got "id"'],
    ['source.columns', ['id', 'id'], 'source.columns[1]: "id" is listed twice'],
    ['source.columns', ['id', 5], 'source.columns[1]: expected a name (a non-empty string), got 5'],
    ['source.options', 'fast', 'source.options: expected a mapping, got "fast"'],
    ['source.options.chunk_rows', 'many', 'source.options.chunk_rows: expected an integer of at least 10, got "many"'],
    ['source.options.chunk_rows', 0, 'source.options.chunk_rows: expected an integer of at least 10, got 0'],
    ['source.options.chunk_rows', 1.5, 'source.options.chunk_rows: expected an integer of at least 10, got 1.5'],
    ['source.options.max_parallel_chunks', 0, 'source.options.max_parallel_chunks: expected an integer from 1 to 256, got 0'],
    ['source.options.max_parallel_chunks', 257, 'source.options.max_parallel_chunks: expected an integer from 1 to 256, got 257'],
    ['source.options.incremental_strategy', 'cdc', 'source.options.incremental_strategy: expected one of none, column, xmin, got "cdc"'],
    ['source.options.null_cursor', 'skip', 'source.options.null_cursor: expected one of fail, include, exclude, got "skip"'],
    ['source.options.custom_predicate', ' ', 'source.options.custom_predicate: expected SQL text, got an empty string'],
    ['source.options.custom_predicate', 'tenant_id = 7;', 'source.options.custom_predicate: must not end with a semicolon'],
    ['source.options.chunk_column', '', 'source.options.chunk_column: expected a non-empty name, got ""'],
    [
      'source.options.chunk_size',
      5000,
      'source.options.chunk_size: unknown key; allowed: incremental_strategy, incremental_column, lookback, null_cursor, custom_predicate, chunk_column, chunk_rows, max_parallel_chunks',
    ],
    ['source.options', column({ lookback: '5 fortnights' }), 'source.options.lookback: unknown unit "fortnights"'],
    [
      'source.options',
      column({ lookback: -1 }),
      'source.options.lookback: expected an interval such as "5 minutes" (units: microseconds, milliseconds, seconds, minutes, hours, days, weeks) or a number >= 0, got -1',
    ],
    ['source.options', column({ lookback: '5' }), 'source.options.lookback: "5" has no unit'],
    ['source.options', column({ lookback: '5 minutes 2 minutes' }), 'source.options.lookback: expected an interval'],
    ['sink', undefined, 'sink: required; expected a mapping'],
    ['sink.table', undefined, 'sink.table: required; expected a mapping {schema, name}'],
    ['sink.create_table', 'yes', 'sink.create_table: expected true or false, got "yes"'],
    ['sink.staging', 'stage', 'sink.staging: expected a mapping, got "stage"'],
    ['sink.staging.schema', '', 'sink.staging.schema: expected a non-empty name, got ""'],
    [
      'sink.strategy',
      undefined,
      'sink.strategy: required; expected a mapping with a mode (one of full_refresh, incremental_append, incremental_merge, replace, partition_replace)',
    ],
    [
      'sink.strategy',
      'full_refresh',
      'sink.strategy: expected a mapping with a mode (one of full_refresh, incremental_append, incremental_merge, replace, partition_replace), got "full_refresh"',
    ],
    ['sink.strategy', {}, 'sink.strategy.mode: required; allowed: full_refresh, incremental_append, incremental_merge, replace, partition_replace'],
    [
      'sink.strategy',
      { mode: 'merge' },
      'sink.strategy.mode: expected one of full_refresh, incremental_append, incremental_merge, replace, partition_replace, got "merge"',
    ],
    ['sink.strategy.overwrite_type', 'swap', 'sink.strategy.overwrite_type: expected one of truncate_insert, exchange, got "swap"'],
    ['sink.strategy', { mode: 'incremental_append', only_new_rows: 'yes' }, 'sink.strategy.only_new_rows: expected true or false, got "yes"'],
    [
      'sink.strategy',
      { mode: 'incremental_merge', unique_key: ['id'], merge_policy: 'merge' },
      'sink.strategy.merge_policy: expected one of delete_insert, upsert, shadow_swap, got "merge"',
    ],
    [
      'sink.strategy',
      { mode: 'incremental_merge', unique_key: ['id'], duplicate_policy: 'first' },
      'sink.strategy.duplicate_policy: expected one of fail, keep_last, got "first"',
    ],
    ['sink.strategy', { mode: 'incremental_merge' }, 'orders.yaml: sink.strategy.unique_key: required when mode is incremental_merge'],
    ['sink.strategy', { mode: 'incremental_merge', unique_key: [] }, 'sink.strategy.unique_key: expected a non-empty list of column names, got an empty list'],
    ['sink.strategy', { mode: 'incremental_merge', unique_key: ['id', 'id'] }, 'sink.strategy.unique_key[1]: "id" is listed twice'],
    ['sink.strategy', { mode: 'replace' }, 'sink.strategy.custom_predicate: required when mode is replace'],
    ['sink.strategy', { mode: 'partition_replace' }, 'sink.strategy.partition: required when mode is partition_replace'],
    ['sink.strategy', { mode: 'partition_replace', partition: {} }, 'sink.strategy.partition.column: required; expected the name of the partition column'],
    [
      'sink.strategy',
      { mode: 'partition_replace', partition: { column: 'day', native_mode: 'always' } },
      'sink.strategy.partition.native_mode: expected one of auto, required, fallback, got "always"',
    ],
    [
      'sink.strategy',
      { mode: 'partition_replace', partition: { column: 'day', max_partitions_per_run: 0 } },
      'sink.strategy.partition.max_partitions_per_run: expected a positive integer, got 0',
    ],
    ['state', 'dwh', 'state: expected a mapping, got "dwh"'],
    ['state.schema', '', 'state.schema: expected a non-empty name, got ""'],
    ['state.connection_id', '', 'state.connection_id: expected a connection id'],
    ['state.lease_seconds', 60, 'state.lease_seconds: unknown key; allowed: connection_id, connection_type, connection_params, schema'],
    ['extra', true, 'extra: unknown key; allowed: name, schedule, task_budget, source, sink, state'],
  ])('refuses %s = %j', (path, value, expected) => {
    expect(problemsOf(pipelineYaml({ [path]: value }))).toEqual([expect.stringContaining(expected)]);
  });

  describe('strategy keys', () => {
    it.each<[Doc, string]>([
      [{ mode: 'full_refresh', unique_key: ['id'] }, 'orders.yaml: sink.strategy.unique_key: not allowed when mode is full_refresh'],
      [{ mode: 'full_refresh', merge_policy: 'upsert' }, 'sink.strategy.merge_policy: not allowed when mode is full_refresh'],
      [{ mode: 'incremental_append', merge_policy: 'upsert' }, 'sink.strategy.merge_policy: not allowed when mode is incremental_append'],
      [{ mode: 'incremental_merge', unique_key: ['id'], only_new_rows: true }, 'sink.strategy.only_new_rows: not allowed when mode is incremental_merge'],
      [{ mode: 'replace', custom_predicate: 'true', partition: { column: 'day' } }, 'sink.strategy.partition: not allowed when mode is replace'],
      [
        { mode: 'partition_replace', partition: { column: 'day' }, overwrite_type: 'exchange' },
        'sink.strategy.overwrite_type: not allowed when mode is partition_replace',
      ],
      [{ mode: 'full_refresh', overwrite: 'exchange' }, 'sink.strategy.overwrite: unknown key; allowed: mode, overwrite_type'],
    ])('refuses a key of another mode: %j', (strategy, expected) => {
      expect(problemsOf(pipelineYaml({ 'sink.strategy': strategy }))).toEqual([expect.stringContaining(expected)]);
    });

    it('allows unique_key and duplicate_policy with incremental_append', () => {
      const strategy = { mode: 'incremental_append', only_new_rows: true, unique_key: ['id'], duplicate_policy: 'keep_last' };
      expect(parsePipeline(pipelineYaml({ 'sink.strategy': strategy }), 'orders.yaml').sink.strategy).toEqual(strategy);
    });
  });

  it('reports every problem of a file at once, schema and cross-field alike, in file order', () => {
    const problems = problemsOf(
      pipelineYaml({
        name: 'Orders',
        'source.table': undefined,
        'source.options': { chunk_rows: 'many', chunk_size: 5 },
        'sink.strategy': { mode: 'incremental_merge' },
      }),
    );
    expect(problems).toEqual([
      expect.stringContaining('orders.yaml: name: expected a pipeline name'),
      'orders.yaml: source: one of table or query is required',
      'orders.yaml: source.options.chunk_rows: expected an integer of at least 10, got "many"',
      expect.stringContaining('orders.yaml: source.options.chunk_size: unknown key'),
      'orders.yaml: sink.strategy.unique_key: required when mode is incremental_merge',
    ]);
  });

  it('throws a ConfigError whose problems carry the file as given and the key path', () => {
    let caught: unknown;
    try {
      parsePipeline(pipelineYaml({ 'sink.create_table': 'yes' }), 'pipelines/orders.yaml');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).name).toBe('ConfigError');
    expect((caught as ConfigError).problems).toEqual([
      { file: 'pipelines/orders.yaml', path: 'sink.create_table', message: 'expected true or false, got "yes"' },
    ]);
    expect((caught as ConfigError).message).toBe('pipelines/orders.yaml: sink.create_table: expected true or false, got "yes"');
  });

  describe('YAML', () => {
    it('reports a syntax error with its line', () => {
      const text = 'name: orders\nsource:\n  table: [a, b\nsink: {}\n';
      expect(problemsOf(text)).toEqual([expect.stringMatching(/^orders\.yaml: YAML syntax error: .* at line 4, column 1$/)]);
    });

    it('reports every syntax error, and nothing of the schema while the YAML is broken', () => {
      const text = 'name: orders\nname: again\nsource:\n\tsink: 1\n';
      const problems = problemsOf(text);
      expect(problems.length).toBeGreaterThanOrEqual(2);
      expect(problems).toContain('orders.yaml: YAML syntax error: Map keys must be unique at line 2, column 1');
      expect(problems.every((problem) => problem.startsWith('orders.yaml: YAML syntax error: '))).toBe(true);
    });

    it.each([
      ['', 'orders.yaml: the file is empty; expected a pipeline mapping (name, source, sink ...)'],
      ['# nothing yet\n', 'orders.yaml: the file is empty'],
      ['- name: orders\n', 'orders.yaml: expected a pipeline mapping (name, source, sink ...) at the top level, got a list'],
      ['orders', 'got "orders"'],
    ])('refuses a document that is not a mapping: %j', (text, expected) => {
      expect(problemsOf(text)).toEqual([expect.stringContaining(expected)]);
    });
  });

  describe('passwords', () => {
    const urlSource = (id: string) => pipelineYaml({ 'source.connection_type': 'url', 'source.connection_id': id });

    it.each([
      ['mysql://etl:hunter2@db.internal/shop', 'mysql://etl:***@db.internal/shop', 'hunter2'],
      ['mysql://etl:hunt@er2@db.internal/shop', 'mysql://etl:***@db.internal/shop', 'er2'],
      ['http://db.internal/shop?user=etl&password=hunter2', 'password=***', 'hunter2'],
      ['etl:hunter2@db.internal/shop', '"etl:***@db.internal/shop"', 'hunter2'],
    ])('masks the password of a url connection_id %s', (id, shown, secret) => {
      const problems = problemsOf(urlSource(id));
      expect(problems).toEqual([expect.stringContaining(`source.connection_id: expected a postgres:// or postgresql:// URL when connection_type is url, got`)]);
      expect(problems[0]).toContain(shown);
      expect(problems[0]).not.toContain(secret);
    });

    it('never shows a password in the ConfigError message, whatever the problem', () => {
      const id = 'postgres://etl:hunter2@db.internal/shop';
      const texts = [
        pipelineYaml({ 'source.connection_id': id }),
        pipelineYaml({ 'source.connection_params.password': 'hunter2' }),
        pipelineYaml({ 'state.connection_type': 'url', 'state.connection_id': 'pg://etl:hunter2@db/x' }),
        `name: orders\nsource:\n  connection_id: "${id}\n`,
      ];
      for (const text of texts) {
        const error = (() => {
          try {
            parsePipeline(text, 'orders.yaml');
          } catch (caught) {
            return caught as ConfigError;
          }
          throw new Error('expected a ConfigError');
        })();
        expect(error.message).not.toContain('hunter2');
      }
    });
  });
});

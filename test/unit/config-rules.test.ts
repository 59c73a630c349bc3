import { describe, expect, it } from 'vitest';
import { pipelineYaml, problemsOf } from '../helpers/config-yaml.ts';

type Doc = Record<string, unknown>;

const column = (extra: Doc = {}) => ({ incremental_strategy: 'column', incremental_column: 'updated_at', ...extra });
const merge = { mode: 'incremental_merge', unique_key: ['id'] };
const append = (extra: Doc = {}) => ({ mode: 'incremental_append', ...extra });

describe('Function: parsePipeline', () => {
  describe('cross-field rules', () => {
    it.each<[string, Record<string, unknown>, string]>([
      ['no table and no query', { 'source.table': undefined }, 'orders.yaml: source: one of table or query is required'],
      ['both table and query', { 'source.query': 'SELECT 1' }, 'source.query: not allowed together with source.table; give exactly one of table and query'],
      [
        'column without incremental_column',
        { 'source.options': { incremental_strategy: 'column' } },
        'source.options.incremental_column: required when incremental_strategy is column',
      ],
      [
        'incremental_column without column',
        { 'source.options': { incremental_column: 'updated_at' } },
        'source.options.incremental_column: not allowed when incremental_strategy is none; only with column',
      ],
      [
        'lookback with xmin',
        { 'source.options': { incremental_strategy: 'xmin', lookback: '5 minutes' } },
        'source.options.lookback: not allowed when incremental_strategy is xmin; only with column',
      ],
      [
        'null_cursor include without column',
        { 'source.options': { null_cursor: 'include' } },
        'source.options.null_cursor: not allowed when incremental_strategy is none; only with column',
      ],
      [
        'xmin on a query',
        { 'source.table': undefined, 'source.query': 'SELECT * FROM orders', 'source.options': { incremental_strategy: 'xmin' } },
        'source.options.incremental_strategy: xmin needs source.table; a query has no xmin',
      ],
      [
        'only_new_rows without unique_key',
        { 'sink.strategy': append({ only_new_rows: true }) },
        'sink.strategy.unique_key: required when only_new_rows is true',
      ],
      [
        'keep_last on append without unique_key',
        { 'sink.strategy': append({ duplicate_policy: 'keep_last' }) },
        'sink.strategy.duplicate_policy: keep_last needs sink.strategy.unique_key',
      ],
      [
        'a lookback with plain append',
        { 'source.options': column({ lookback: '5 minutes' }), 'sink.strategy': append() },
        'source.options.lookback: a lookback re-reads rows already loaded, so with mode incremental_append it needs sink.strategy.unique_key; or use incremental_merge',
      ],
      [
        'a numeric lookback with plain append',
        { 'source.options': column({ lookback: 100 }), 'sink.strategy': append() },
        'source.options.lookback: a lookback re-reads rows',
      ],
      [
        'unique_key outside the projection',
        { 'source.columns': ['order_id', 'updated_at'], 'sink.strategy': merge },
        'sink.strategy.unique_key[0]: column "id" is not in source.columns',
      ],
      [
        'incremental_column outside the projection',
        { 'source.columns': ['id'], 'source.options': column() },
        'source.options.incremental_column: column "updated_at" is not in source.columns',
      ],
      [
        'partition column outside the projection',
        { 'source.columns': ['id'], 'sink.strategy': { mode: 'partition_replace', partition: { column: 'day' } } },
        'sink.strategy.partition.column: column "day" is not in source.columns',
      ],
      [
        'a URL as a secret',
        { 'source.connection_id': 'postgres://etl@db/shop' },
        'source.connection_id: looks like a URL; set connection_type: url to use it as one',
      ],
      [
        'a malformed secret ARN',
        { 'sink.connection_id': 'arn:aws:secretsmanager:eu-west-1:123:secret:dwh' },
        'sink.connection_id: expected a Secrets Manager secret ARN',
      ],
      ['a secret name with a space', { 'sink.connection_id': 'my secret' }, 'sink.connection_id: expected a Secrets Manager secret name'],
      [
        'a url that is not postgres',
        { 'sink.connection_type': 'url', 'sink.connection_id': 'mysql://db/shop' },
        'sink.connection_id: expected a postgres:// or postgresql:// URL when connection_type is url, got "mysql://db/shop"',
      ],
      [
        'a state connection_type without connection_id',
        { state: { connection_type: 'env' } },
        "state.connection_type: only together with state.connection_id; without it the state uses the sink's connection",
      ],
      [
        'state connection_params without connection_id',
        { state: { connection_params: { port: 5433 } } },
        'state.connection_params: only together with state.connection_id',
      ],
      [
        'a state url that is not a URL',
        { state: { connection_id: 'ops', connection_type: 'url' } },
        'state.connection_id: expected a postgres:// or postgresql:// URL',
      ],
    ])('refuses %s', (_case, changes, expected) => {
      expect(problemsOf(pipelineYaml(changes))).toEqual([expect.stringContaining(expected)]);
    });

    it.each<[string, Record<string, unknown>]>([
      [
        'a query instead of a table',
        { 'source.table': undefined, 'source.query': 'SELECT o.*, c.segment FROM orders o JOIN customers c ON c.id = o.customer_id' },
      ],
      ['null_cursor fail (the default) without column', { 'source.options': { incremental_strategy: 'xmin', null_cursor: 'fail' } }],
      ['a zero lookback without column', { 'source.options': { lookback: 0 } }],
      ['a lookback with append and a unique_key', { 'source.options': column({ lookback: '5 minutes' }), 'sink.strategy': append({ unique_key: ['id'] }) }],
      ['a lookback with merge', { 'source.options': column({ lookback: '2 days' }), 'sink.strategy': merge }],
      ['a zero lookback with plain append', { 'source.options': column({ lookback: '0 minutes' }), 'sink.strategy': append() }],
      ['keep_last with no incremental column (xmin orders it)', { 'sink.strategy': { ...merge, duplicate_policy: 'keep_last' } }],
      ['keep_last with xmin', { 'source.options': { incremental_strategy: 'xmin' }, 'sink.strategy': { ...merge, duplicate_policy: 'keep_last' } }],
      ['key columns inside the projection', { 'source.columns': ['id', 'updated_at'], 'source.options': column(), 'sink.strategy': merge }],
      ['a chunk_column outside the projection', { 'source.columns': ['id'], 'source.options': { chunk_column: 'seq' } }],
      ['a secret ARN', { 'sink.connection_id': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:dwh-AbCdEf' }],
      ['an RDS-managed secret', { 'sink.connection_id': 'rds!db-0123abcd-4567-89ef-0123-456789abcdef' }],
      ['an env connection with any id', { 'sink.connection_type': 'env', 'sink.connection_id': 'dwh prod' }],
      ['a postgres url', { 'sink.connection_type': 'url', 'sink.connection_id': 'postgres://etl:pw@localhost/dwh' }],
      [
        'a state with its own url connection',
        { state: { connection_id: 'postgresql://localhost/ops', connection_type: 'url', connection_params: { user: 'ops' } } },
      ],
    ])('accepts %s', (_case, changes) => {
      expect(problemsOf(pipelineYaml(changes))).toEqual([]);
    });

    it('still runs when other keys have type errors', () => {
      expect(
        problemsOf(pipelineYaml({ 'source.table': undefined, 'source.options': { chunk_rows: -1 }, 'sink.strategy': append({ only_new_rows: true }) })),
      ).toEqual([
        'orders.yaml: source: one of table or query is required',
        'orders.yaml: source.options.chunk_rows: expected an integer of at least 10, got -1',
        'orders.yaml: sink.strategy.unique_key: required when only_new_rows is true',
      ]);
    });
  });
});

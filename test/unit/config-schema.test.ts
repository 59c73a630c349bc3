import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../../lib/config/index.ts';
import { pipelineYaml, problemsOf } from '../helpers/config-yaml.ts';

type Doc = Record<string, unknown>;

describe('Function: parsePipeline', () => {
  it('applies every default to a minimal pipeline', () => {
    expect(parsePipeline(pipelineYaml(), 'orders.yaml')).toEqual({
      name: 'orders',
      source: {
        type: 'postgres',
        connection_id: 'orders_oltp',
        connection_type: 'secretsmanager',
        connection_params: {},
        table: { schema: 'public', name: 'orders' },
        options: { incremental_strategy: 'none', null_cursor: 'fail', max_parallel_chunks: 4 },
      },
      sink: {
        type: 'postgres',
        connection_id: 'dwh',
        connection_type: 'secretsmanager',
        connection_params: {},
        table: { schema: 'landing', name: 'orders' },
        create_table: true,
        staging: { schema: 'pgferry_staging' },
        strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' },
      },
      state: { connection_id: 'dwh', connection_type: 'secretsmanager', connection_params: {}, schema: 'pgferry', lease_ttl: 900000 },
    });
  });

  it('leaves optional keys absent rather than undefined', () => {
    const config = parsePipeline(pipelineYaml(), 'orders.yaml');
    expect(Object.keys(config)).not.toContain('schedule');
    expect(Object.keys(config.source)).not.toContain('query');
    expect(Object.keys(config.source.options)).not.toContain('lookback');
  });

  it('defaults the schedule timezone to UTC and enabled to true', () => {
    const config = parsePipeline(pipelineYaml({ schedule: { expression: 'rate(15 minutes)' } }), 'orders.yaml');
    expect(config.schedule).toEqual({ expression: 'rate(15 minutes)', timezone: 'UTC', enabled: true });
  });

  it.each([
    [{ mode: 'full_refresh' }, { mode: 'full_refresh', overwrite_type: 'truncate_insert' }],
    [{ mode: 'incremental_append' }, { mode: 'incremental_append', only_new_rows: false, duplicate_policy: 'fail' }],
    [
      { mode: 'incremental_merge', unique_key: ['id'] },
      { mode: 'incremental_merge', unique_key: ['id'], merge_policy: 'delete_insert', duplicate_policy: 'fail' },
    ],
    [
      { mode: 'replace', custom_predicate: "day = '2026-06-03'" },
      { mode: 'replace', custom_predicate: "day = '2026-06-03'" },
    ],
    [
      { mode: 'partition_replace', partition: { column: 'day' } },
      { mode: 'partition_replace', partition: { column: 'day', native_mode: 'auto', max_partitions_per_run: 64 } },
    ],
  ])('applies the defaults of strategy %o', (strategy, expected) => {
    expect(parsePipeline(pipelineYaml({ 'sink.strategy': strategy }), 'orders.yaml').sink.strategy).toEqual(expected);
  });

  it('treats a key with no value as not given', () => {
    expect(parsePipeline(`${pipelineYaml()}state:\n`, 'orders.yaml').state.connection_id).toBe('dwh');
    const text = pipelineYaml().replace('connection_id: orders_oltp\n', 'connection_id: orders_oltp\n  connection_params:\n');
    expect(parsePipeline(text, 'orders.yaml').source.connection_params).toEqual({});
  });

  it('accepts YAML anchors, aliases and merge keys', () => {
    const text = [
      'name: orders',
      'source: {type: postgres, connection_id: oltp, connection_params: &common {sslmode: require, connect_timeout: 5}, table: {name: orders}}',
      'sink:',
      '  type: postgres',
      '  connection_id: dwh',
      '  connection_params: {<<: *common, application_name: loader}',
      '  table: {name: orders}',
      '  strategy: {mode: full_refresh}',
      '',
    ].join('\n');
    const config = parsePipeline(text, 'orders.yaml');
    expect(config.source.connection_params).toEqual({ sslmode: 'require', connect_timeout: 5 });
    expect(config.sink.connection_params).toEqual({ sslmode: 'require', connect_timeout: 5, application_name: 'loader' });
  });

  describe('connection_params', () => {
    const paramsOf = (params: Doc) => parsePipeline(pipelineYaml({ 'source.connection_params': params }), 'orders.yaml').source.connection_params;

    it('reads dbname as database and user as username', () => {
      expect(paramsOf({ dbname: 'shop', user: 'etl' })).toEqual({ database: 'shop', username: 'etl' });
    });

    it('lets database and username win over their aliases', () => {
      expect(paramsOf({ dbname: 'alias', database: 'canonical', user: 'alias', username: 'canonical' })).toEqual({
        database: 'canonical',
        username: 'canonical',
      });
    });

    it('reads a port given as a string of digits', () => {
      expect(paramsOf({ port: '6432' })).toEqual({ port: 6432 });
      expect(paramsOf({ port: 5432 })).toEqual({ port: 5432 });
    });

    it.each([
      [30000, 30000],
      ['1500', 1500],
      ['30s', 30_000],
      ['5min', 300_000],
      ['2 minutes', 120_000],
      ['1 h', 3_600_000],
      ['250ms', 250],
      [0, 0],
    ])('normalises statement_timeout %o to %i ms', (given, ms) => {
      expect(paramsOf({ statement_timeout: given }).statement_timeout).toBe(ms);
    });

    it('keeps every other supported field', () => {
      const params = { host: 'db.internal', sslmode: 'verify-full', sslrootcert: '/opt/rds.pem', application_name: 'etl', connect_timeout: 5 };
      expect(paramsOf(params)).toEqual(params);
    });
  });

  describe('state', () => {
    it.each([
      ['15 minutes', 900_000],
      ['3 seconds', 3_000],
      ['1h 30min', 5_400_000],
    ])('reads lease_ttl %s as %i ms', (given, ms) => {
      expect(parsePipeline(pipelineYaml({ state: { lease_ttl: given } }), 'orders.yaml').state.lease_ttl).toBe(ms);
    });

    it.each([['1 second'], ['13 hours'], [900], ['soon']])('refuses lease_ttl %o, naming the range', (given) => {
      expect(() => parsePipeline(pipelineYaml({ state: { lease_ttl: given } }), 'orders.yaml')).toThrow(
        /orders\.yaml: state\.lease_ttl: .*(from 2 seconds to 12 hours|unknown unit)/,
      );
    });

    it('refuses a schedule.max_staleness outside what an alarm can watch', () => {
      expect(() => parsePipeline(pipelineYaml({ schedule: { expression: 'rate(1 hour)', max_staleness: '8 days' } }), 'orders.yaml')).toThrow(
        /schedule\.max_staleness: expected a duration .* from 1 minute to 7 days, got "8 days"/,
      );
    });

    it("takes the sink's connection when state is omitted", () => {
      const text = pipelineYaml({ 'sink.connection_type': 'env', 'sink.connection_params': { port: '6432' } });
      expect(parsePipeline(text, 'orders.yaml').state).toEqual({
        connection_id: 'dwh',
        connection_type: 'env',
        connection_params: { port: 6432 },
        schema: 'pgferry',
        lease_ttl: 900000,
      });
    });

    it("takes the sink's connection when state gives only a schema", () => {
      expect(parsePipeline(pipelineYaml({ state: { schema: 'ops' } }), 'orders.yaml').state).toEqual({
        connection_id: 'dwh',
        connection_type: 'secretsmanager',
        connection_params: {},
        schema: 'ops',
        lease_ttl: 900000,
      });
    });

    it('uses its own connection when it names one, with the usual defaults', () => {
      expect(parsePipeline(pipelineYaml({ state: { connection_id: 'ops_db' } }), 'orders.yaml').state).toEqual({
        connection_id: 'ops_db',
        connection_type: 'secretsmanager',
        connection_params: {},
        schema: 'pgferry',
        lease_ttl: 900000,
      });
    });
  });

  it('accepts names with quotes, spaces and unicode up to 63 bytes', () => {
    const name = `${'é'.repeat(30)}"x `; // 60 + 3 bytes
    const config = parsePipeline(pipelineYaml({ 'sink.table.name': name, 'sink.table.schema': 'Data Lake' }), 'orders.yaml');
    expect(config.sink.table).toEqual({ schema: 'Data Lake', name });
  });

  it('counts the 63-byte limit in UTF-8 bytes, not characters', () => {
    expect(problemsOf(pipelineYaml({ 'sink.table.name': `${'é'.repeat(31)}a` }))).toEqual([]);
    expect(problemsOf(pipelineYaml({ 'sink.table.name': 'é'.repeat(32) }))).toEqual([
      expect.stringContaining("orders.yaml: sink.table.name: expected at most 63 bytes (PostgreSQL's limit on names), got 64 bytes"),
    ]);
    expect(problemsOf(pipelineYaml({ 'source.columns': ['id', '🦆'.repeat(16)] }))).toEqual([
      expect.stringContaining('source.columns[1]: expected at most 63 bytes'),
    ]);
  });

  it('normalises the spacing of a lookback interval', () => {
    const text = pipelineYaml({
      'source.options': { incremental_strategy: 'column', incremental_column: 'updated_at', lookback: '  1h30min ' },
      'sink.strategy': { mode: 'incremental_merge', unique_key: ['id'] },
    });
    expect(parsePipeline(text, 'orders.yaml').source.options.lookback).toBe('1 hour 30 minutes');
  });

  it('drops a zero lookback, which means none', () => {
    const text = pipelineYaml({ 'source.options': { incremental_strategy: 'column', incremental_column: 'updated_at', lookback: '0' } });
    expect(Object.keys(parsePipeline(text, 'orders.yaml').source.options)).not.toContain('lookback');
  });

  it('keeps a url connection_id as written', () => {
    const url = 'postgresql://etl:s3cret@localhost:5432/shop?sslmode=disable';
    const text = pipelineYaml({ 'source.connection_type': 'url', 'source.connection_id': url });
    expect(parsePipeline(text, 'orders.yaml').source.connection_id).toBe(url);
  });
});

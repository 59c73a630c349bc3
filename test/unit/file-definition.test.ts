import { describe, expect, it } from 'vitest';
import aslValidator from 'asl-validator';
import { LOCAL_RESOURCES } from '../../lib/local/runner.ts';
import { buildFileDefinition, buildTableDefinition, FileStates, TABLES_FAILED } from '../../lib/workflow/definition.ts';
import { summarizeTables } from '../../lib/workflow/tasks/summarize.ts';
import { tableKey, tableRunRef } from '../../lib/config/index.ts';
import { MAX_PLAN_OUTPUT_BYTES } from '../../lib/workflow/definition.ts';
import { tableRunName } from '../../lib/workflow/tables.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- reading ASL JSON by key
type Json = any;

const FILE_RESOURCES = {
  tables: 'arn:aws:lambda:eu-west-1:123456789012:function:pgferry-tables',
  summarize: 'arn:aws:lambda:eu-west-1:123456789012:function:pgferry-summarize',
  tableMachine: 'arn:aws:states:eu-west-1:123456789012:stateMachine:pgferry-sales-Tables',
};

describe('Feature: the machines of a file that lists tables', () => {
  const file = buildFileDefinition({ name: 'sales', max_parallel_tables: 6 }, FILE_RESOURCES);
  const table = buildTableDefinition('sales', LOCAL_RESOURCES);

  it.each([
    ['file', file],
    ['table', table],
  ])('the %s machine passes the npm asl-validator', (_what, definition) => {
    const result = aslValidator(structuredClone(definition) as never);
    expect(result.errorsText?.() ?? '', JSON.stringify(result.errors)).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('runs each table as a child execution inside an inline Map, max_parallel_tables at once, catching its failure there', () => {
    const map = file.States.RunTables as Json;
    expect(map).toMatchObject({ Type: 'Map', ItemsPath: '$.tables', MaxConcurrency: 6, ResultPath: '$.results', Next: FileStates.summarize });
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'INLINE' });
    const run = map.ItemProcessor.States[FileStates.runTable];
    expect(run.Resource).toBe('arn:aws:states:::states:startExecution.sync:2');
    expect(run.Parameters).toMatchObject({ StateMachineArn: FILE_RESOURCES.tableMachine, 'Name.$': '$.name' });
    expect(run.Parameters.Input).toMatchObject({ 'pipeline.$': '$.ref', 'request.$': '$.request' });
    expect(run.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'TableFailed' }]);
    expect(map.ItemProcessor.States.TableFailed.Parameters).toEqual({ status: 'failed', 'error.$': '$.error.Error' });
    expect(run.TimeoutSeconds).toBeGreaterThan(60);
    expect(file.States[TABLES_FAILED]).toMatchObject({ Type: 'Fail', ErrorPath: '$.failure.Error' });
  });

  it('takes the table run from the execution input and the chunk concurrency from the plan', () => {
    const plan = table.States.Plan as Json;
    expect(plan.Parameters).toMatchObject({ 'pipeline.$': '$$.Execution.Input.pipeline', 'request.$': '$$.Execution.Input.request' });
    expect(table.States.ExtractChunks).toMatchObject({ MaxConcurrencyPath: '$.maxParallelChunks' });
    expect((table.States.RecordFailure as Json).Parameters['pipeline.$']).toBe('$$.Execution.Input.pipeline');
  });

  it('names every table run within 80 characters of [A-Za-z0-9_-], distinct per table', () => {
    const run = 'a'.repeat(80);
    const names = ['sales/sales.orders', 'sales/sales."Odd.Name"', `sales/sales.${'x'.repeat(63)}`, 'sales/sales.orders2'].map((k) => tableRunName(run, k));
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(new Set(names).size).toBe(names.length);
    expect(tableRunName('exec-1', 'sales/sales.orders')).toMatch(/^exec-1-sales_orders-[0-9a-f]{8}$/);
  });

  it('fails the file run when a table failed or was rejected, naming them; all skipped is skipped', async () => {
    const base = { pipeline: 'sales', runId: 'r', warnings: [], missing: [] };
    const tables = ['a', 'b'].map((t) => ({ ref: '{}', table: `s.${t}`, target: `l.${t}`, name: `r-${t}` }));
    const ok = await summarizeTables({ ...base, tables, results: [{ status: 'succeeded' }, { status: 'skipped' }], rejected: [] });
    expect(ok).toMatchObject({ status: 'succeeded', totals: { tables: 2, succeeded: 1, skipped: 1, failed: 0 } });
    expect(ok.failure).toBeUndefined();
    expect((await summarizeTables({ ...base, tables, results: [{ status: 'skipped' }, { status: 'skipped' }], rejected: [] })).status).toBe('skipped');
    const bad = await summarizeTables({
      ...base,
      tables,
      results: [{ status: 'failed', error: 'DuplicateKeyError' }, { status: 'succeeded' }],
      rejected: [{ table: 's.c', target: 'l.c', entry: 0, error: { name: 'ConfigError', message: 'no primary key' } }],
    });
    expect(bad).toMatchObject({ status: 'failed', totals: { tables: 3, succeeded: 1, failed: 2 } });
    expect(bad.failure?.Error).toBe(TABLES_FAILED);
    expect(bad.failure?.Cause).toBe('2 of 3 table(s) failed: s.c (ConfigError: no primary key), s.a (DuplicateKeyError)');
  });

  it("keeps the list of 500 tables with long names and keys within the payload a state may hold, with the table runs' results", () => {
    const runId = 'b'.repeat(80);
    const tables = Array.from({ length: 500 }, (_, i) => {
      const ref = { schema: 'sales_and_marketing', name: `${'t'.repeat(40)}_${String(i).padStart(3, '0')}` };
      const key = tableKey('sales', ref);
      const table = `${ref.schema}.${ref.name}`;
      return { ref: tableRunRef(key, 3, ['customer_id', 'order_id', 'line_no']), table, target: `landing.${ref.name}`, name: tableRunName(runId, key) };
    });
    const listed = { pipeline: 'sales', runId, request: { full_refresh: true }, tables, rejected: [], warnings: [], missing: [] };
    // Every table failed: each result is the error's name only (the Cause of a failed child execution is kilobytes).
    const withResults = { ...listed, results: tables.map(() => ({ status: 'failed', error: 'States.TaskFailed' })) };
    expect(Buffer.byteLength(JSON.stringify(listed))).toBeLessThan(MAX_PLAN_OUTPUT_BYTES);
    expect(Buffer.byteLength(JSON.stringify(withResults))).toBeLessThan(256 * 1024);
  });
});

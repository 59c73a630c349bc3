import { describe, expect, it } from 'vitest';
import { parseBundledFiles, parsePipelineBundle, pipelineLookup, fileLookup, serializePipelines } from '../../lib/aws/bundled-pipelines.ts';
import { parsePipelineFile, tableRunRef, type TablesFile } from '../../lib/config/index.ts';
import { cleanupInputOf } from '../../lib/workflow/tasks/cleanup.ts';
import { statusEvent } from '../helpers/events.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';

const FILE = parsePipelineFile(
  `name: sales
source: {type: postgres, connection_id: sales/source}
sink: {type: postgres, connection_id: sales/target}
tables:
  - table: sales.orders
    target: {name: orders_copy}
    strategy: {mode: incremental_merge, unique_key: [id]}
  - table: "sales.*"
    exclude: ["sales.tmp_*", sales.skip]
    strategy: {mode: incremental_merge}
`,
  'sales.yaml',
) as TablesFile & { kind: 'tables' };

describe('Feature: the bundled pipelines of a deployment carry its files of tables', () => {
  const single = pipelineConfig('postgres://u@h/a', 'postgres://u@h/b', { name: 'orders' });
  const text = serializePipelines([single], [FILE]);

  it('round-trips the files, patterns included', () => {
    expect(parsePipelineBundle(text, 'bundle.json').map((c) => c.name)).toEqual(['orders']);
    const [file] = parseBundledFiles(text, 'bundle.json');
    expect(file?.entries.map((e) => [e.match.text, e.exclude.map((x) => x.text)])).toEqual([
      ['sales.orders', []],
      ['sales.*', ['sales.tmp_*', 'sales.skip']],
    ]);
    expect(file?.entries[1]?.match).toMatchObject({ schema: { exact: 'sales' } });
  });

  it('looks a table run up by its reference, with the entry and the primary key it carries', () => {
    const files = parseBundledFiles(text, 'bundle.json');
    const lookup = pipelineLookup(parsePipelineBundle(text, 'bundle.json'), {}, files);
    expect(lookup('orders').name).toBe('orders');
    const events = lookup(tableRunRef('sales/sales.events', 1, ['k1', 'k2']));
    expect(events).toMatchObject({ name: 'sales/sales.events', sink: { table: { name: 'events' }, strategy: { unique_key: ['k1', 'k2'] } } });
    expect(lookup(tableRunRef('sales/sales.orders', 0, null)).sink.table.name).toBe('orders_copy');
    // The file itself is not a pipeline; another file's table is not served.
    expect(() => lookup('sales')).toThrow(/unknown pipeline "sales"/);
    expect(() => lookup(tableRunRef('other/x.y', 0, null))).toThrow(/unknown pipeline/);
    expect(() => pipelineLookup([single], { served: ['orders'] }, files)(tableRunRef('sales/sales.events', 1, ['k']))).toThrow(/unknown pipeline/);
    expect(fileLookup(files)('sales').name).toBe('sales');
    expect(() => fileLookup(files)('orders')).toThrow(/unknown file of tables/);
  });

  it("cleans up a table run from its execution's input, and ignores the file machine's own end", () => {
    const ref = tableRunRef('sales/sales.events', 1, ['id']);
    const table = statusEvent('run-1-sales_events-0a1b2c3d', 'FAILED', {
      machine: 'pgferry-sales-Tables',
      input: JSON.stringify({ pipeline: ref, request: {} }),
    });
    expect(cleanupInputOf(table, 'pgferry')).toMatchObject({ pipeline: ref, runId: 'run-1-sales_events-0a1b2c3d', status: 'FAILED' });
    const file = statusEvent('run-1', 'FAILED', { machine: 'pgferry-sales' });
    expect(cleanupInputOf(file, 'pgferry')).toMatchObject({ pipeline: 'sales' });
  });
});

import { describe, expect, it } from 'vitest';
import { parsePipeline, parsePipelineFile, tableConfig, type TablesFile } from '../../lib/config/index.ts';
import { ConfigError, formatProblem } from '../../lib/errors.ts';

const HEAD = `name: sales
source: {type: postgres, connection_id: oltp}
sink: {type: postgres, connection_id: dwh}
`;

function tablesFile(body: string): TablesFile {
  const parsed = parsePipelineFile(HEAD + body, 'sales.yaml');
  if (parsed.kind !== 'tables') throw new Error('expected a file of tables');
  return parsed;
}

function problems(text: string): string[] {
  try {
    parsePipelineFile(text, 'sales.yaml');
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
}

describe('Feature: a pipeline file that lists tables', () => {
  it('composes each entry with the defaults: options and target key by key, the strategy key by key for the same mode', () => {
    const file = tablesFile(`tables:
  - table: sales.orders
    target: {name: orders2}
    options: {incremental_strategy: column, incremental_column: updated_at}
    strategy: {mode: incremental_merge, unique_key: [id]}
  - table: "sales.*"
    exclude: ["sales.tmp_*"]
    strategy: {overwrite_type: exchange}
  - table: {schema: other, name: "Odd.Name"}
    strategy: {mode: incremental_append}
defaults:
  target: {schema: landing}
  options: {chunk_rows: 500000}
  strategy: {mode: full_refresh}
`);
    expect(file.max_parallel_tables).toBe(4);
    expect(file.entries.map((e) => [e.text, e.exact, e.exclude.length])).toEqual([
      ['sales.orders', true, 0],
      ['sales.*', false, 1],
      ['other."Odd.Name"', true, 0],
    ]);
    const [orders, pattern, odd] = file.entries;
    const config = tableConfig(file, orders!, { schema: 'sales', name: 'orders' }, ['id']);
    expect(config.name).toBe('sales/sales.orders');
    expect(config.source.table).toEqual({ schema: 'sales', name: 'orders' });
    expect(config.sink.table).toEqual({ schema: 'landing', name: 'orders2' });
    expect(config.source.options).toMatchObject({ incremental_strategy: 'column', incremental_column: 'updated_at', chunk_rows: 500000 });
    expect(config.sink.strategy).toEqual({ mode: 'incremental_merge', unique_key: ['id'], merge_policy: 'delete_insert', duplicate_policy: 'fail' });
    expect(config.table).toEqual({ file: 'sales', ref: { schema: 'sales', name: 'orders' }, entry: 0 });
    const events = tableConfig(file, pattern!, { schema: 'sales', name: 'events' }, null);
    expect(events.sink.table).toEqual({ schema: 'landing', name: 'events' });
    expect(events.sink.strategy).toEqual({ mode: 'full_refresh', overwrite_type: 'exchange' });
    expect(tableConfig(file, odd!, { schema: 'other', name: 'Odd.Name' }, null).sink.strategy).toMatchObject({ mode: 'incremental_append' });
  });

  it('takes the primary key as unique_key where an entry leaves it out, and fails that table alone without one', () => {
    const file = tablesFile(`tables:
  - table: "sales.*"
    strategy: {mode: incremental_merge}
`);
    const entry = file.entries[0]!;
    expect(entry.keyFromPrimaryKey).toBe(true);
    expect(tableConfig(file, entry, { schema: 'sales', name: 'a' }, ['k1', 'k2']).sink.strategy).toMatchObject({ unique_key: ['k1', 'k2'] });
    expect(() => tableConfig(file, entry, { schema: 'sales', name: 'nokey' }, null)).toThrow(
      /tables\[0\]\.strategy\.unique_key: table sales\.nokey has no primary key, which mode incremental_merge takes as its unique_key/,
    );
  });

  it('names the entry in every problem, reports a bad default once, and refuses per-table keys at the file level', () => {
    expect(
      problems(`name: sales
source: {type: postgres, connection_id: oltp, table: {name: orders}, options: {chunk_rows: 5}}
sink: {type: postgres, connection_id: dwh, strategy: {mode: full_refresh}}
max_parallel_tables: 99
tables:
  - table: sales.orders
    strategy: {mode: incremental_merge, unique_key: id, merge_policy: sideways}
  - table: "sales.*"
    target: {name: fixed}
    bogus: 1
  - table: "sales.a.b.c"
  - table: sales.orders
  - table: sales.x
    exclude: [sales.y]
  - table: sales.${'n'.repeat(64)}
defaults:
  options: {chunk_rows: 3}
  strategy: {mode: full_refresh}
  target: {name: nope}
`),
    ).toEqual([
      'sales.yaml: source.table: not allowed in a file with tables; put it under tables[n].table',
      'sales.yaml: source.options: not allowed in a file with tables; put it under defaults.options or tables[n].options',
      'sales.yaml: sink.strategy: not allowed in a file with tables; put it under defaults.strategy or tables[n].strategy',
      'sales.yaml: max_parallel_tables: expected an integer from 1 to 40, got 99',
      expect.stringMatching(/^sales\.yaml: tables\[0\]\.strategy\.unique_key: /),
      expect.stringMatching(/^sales\.yaml: tables\[0\]\.strategy\.merge_policy: /),
      "sales.yaml: tables[1].target.name: only on an entry naming one table; a pattern's tables keep their own names",
      expect.stringMatching(/^sales\.yaml: tables\[1\]\.bogus: unknown key; allowed: table, exclude, target/),
      expect.stringMatching(/^sales\.yaml: tables\[2\]\.table: /),
      "sales.yaml: tables[3].table: sales.orders is already tables[0]'s; a table goes to the first entry that names it",
      'sales.yaml: tables[4].exclude: only with a pattern; this entry names one table',
      expect.stringMatching(/^sales\.yaml: tables\[5\]\.table: .*63/),
      'sales.yaml: defaults.options.chunk_rows: expected an integer of at least 10, got 3',
      expect.stringMatching(/^sales\.yaml: defaults\.target\.name: not allowed/),
    ]);
  });

  it('wants a strategy for every entry, and a list of tables with defaults', () => {
    expect(problems(`${HEAD}tables:\n  - table: sales.orders\n`)).toEqual(['sales.yaml: tables[0].strategy: required (here or under defaults.strategy)']);
    expect(problems(`${HEAD}defaults: {strategy: {mode: full_refresh}}\n`)).toEqual([
      'sales.yaml: tables: expected a non-empty list of entries ({table, ...}), got nothing',
    ]);
  });

  it('keeps the single-table form, and tells parsePipeline callers a file of tables is read elsewhere', () => {
    expect(
      parsePipelineFile(
        `${HEAD.replace('oltp}', 'oltp, table: {name: orders}}').replace('dwh}', 'dwh, table: {name: orders}, strategy: {mode: full_refresh}}')}`,
        'one.yaml',
      ).kind,
    ).toBe('single');
    expect(() => parsePipeline(`${HEAD}tables:\n  - {table: sales.orders, strategy: {mode: full_refresh}}\n`, 'sales.yaml')).toThrow(/this file lists tables/);
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineSource, type TablesFile } from '../../lib/config/index.ts';
import { openConnection } from '../../lib/connections/index.ts';
import { runLocalFile, type FileRunSummary } from '../../lib/local/tables.ts';
import { summarizeTables } from '../../lib/workflow/tasks/summarize.ts';
import { cli } from '../helpers/cli.ts';
import { rowHashes } from '../helpers/compare.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';

const SOURCE = `
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id bigint PRIMARY KEY, amount numeric(12,2), updated_at timestamptz(6) NOT NULL);
INSERT INTO sales.orders SELECT g, g / 10.0, timestamptz '2026-06-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 2000) g;
CREATE TABLE sales.customers (id int PRIMARY KEY, name text);
INSERT INTO sales.customers SELECT g, 'c' || g FROM generate_series(1, 300) g;
CREATE TABLE sales.events (k text, v int);
INSERT INTO sales.events SELECT 'k' || g, g FROM generate_series(1, 500) g;
CREATE TABLE sales."Odd.Name" (id int PRIMARY KEY, v text);
INSERT INTO sales."Odd.Name" VALUES (1, 'one'), (2, 'two');
CREATE TABLE sales.tmp_scratch (id int);
INSERT INTO sales.tmp_scratch VALUES (1);
CREATE TABLE sales.ledger (day date NOT NULL, id int NOT NULL, amount int) PARTITION BY RANGE (day);
CREATE TABLE sales.ledger_2026_06 PARTITION OF sales.ledger FOR VALUES FROM ('2026-06-01') TO ('2026-07-01');
CREATE TABLE sales.ledger_2026_07 PARTITION OF sales.ledger FOR VALUES FROM ('2026-07-01') TO ('2026-08-01');
INSERT INTO sales.ledger SELECT date '2026-06-01' + (g % 50), g, g FROM generate_series(1, 400) g;
CREATE TABLE sales.dupes (id int, v int);
INSERT INTO sales.dupes VALUES (1, 1), (1, 2), (2, 3);`;

describe('Feature: a pipeline file that lists tables', () => {
  const db = useSourceAndTarget(SOURCE);
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgferry-tables-'));
    await db.target.query('CREATE SCHEMA landing');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeFileOf(name: string, body: string): Promise<TablesFile> {
    const path = join(dir, `${name}.yaml`);
    await writeFile(
      path,
      `name: ${name}
source: {type: postgres, connection_type: url, connection_id: "${db.sourceUrl}"}
sink: {type: postgres, connection_type: url, connection_id: "${db.targetUrl}"}
${body}`,
    );
    const parsed = await loadPipelineSource(path);
    if (parsed.kind !== 'tables') throw new Error('expected a file of tables');
    return parsed;
  }

  const byTable = (s: FileRunSummary) => Object.fromEntries(s.tables.map((t) => [t.table, t]));

  it('loads the tables a pattern resolves to, each equal to its source, with per-table strategies and targets', async () => {
    const file = await writeFileOf(
      'sales',
      `tables:
  - table: sales.orders
    target: {name: orders_copy}
    options: {incremental_strategy: column, incremental_column: updated_at, chunk_rows: 500}
    strategy: {mode: incremental_merge, unique_key: [id]}
  - table: "sales.*"
    exclude: ["sales.tmp_*", sales.dupes]
defaults:
  target: {schema: landing}
  strategy: {mode: full_refresh}
`,
    );
    const summary = await runLocalFile(file);
    expect(summary.status).toBe('succeeded');
    // Name order as COLLATE "C" sorts: upper case before lower case.
    expect(summary.tables.map((t) => t.table)).toEqual(['sales."Odd.Name"', 'sales.customers', 'sales.events', 'sales.ledger', 'sales.orders']);
    const tables = byTable(summary);
    expect(tables['sales.orders']).toMatchObject({ target: 'landing.orders_copy', mode: 'incremental_merge', strategy: 'delete_insert', rowsInserted: 2000 });
    expect(tables['sales.customers']).toMatchObject({ target: 'landing.customers', mode: 'full_refresh', rowsInserted: 300 });
    for (const [source, target] of [
      ['sales.orders', 'landing.orders_copy'],
      ['sales.customers', 'landing.customers'],
      ['sales.events', 'landing.events'],
      ['sales.ledger', 'landing.ledger'],
      ['sales."Odd.Name"', 'landing."Odd.Name"'],
    ] as const) {
      expect(await rowHashes(db.target, target), source).toEqual(await rowHashes(db.source, source));
    }
    expect((await db.target.query(`SELECT to_regclass('landing.tmp_scratch') AS t, to_regclass('landing.ledger_2026_06') AS p`)).rows[0]).toEqual({
      t: null,
      p: null,
    });
    expect(summary.totals).toMatchObject({ tables: 5, succeeded: 5, failed: 0, skipped: 0, rowsInserted: 2000 + 300 + 500 + 400 + 2 });

    // Changed rows, a new table and a dropped one: the next run merges only the changes, creates the new table and reports the dropped one.
    await db.source.query(`UPDATE sales.orders SET amount = -1, updated_at = updated_at + interval '1 year' WHERE id <= 10;
      CREATE TABLE sales.added (id int PRIMARY KEY, v text); INSERT INTO sales.added VALUES (1, 'a');
      DROP TABLE sales.events`);
    const again = await runLocalFile(file);
    expect(again.status).toBe('succeeded');
    expect(again.tables.map((t) => t.table)).toEqual(['sales."Odd.Name"', 'sales.added', 'sales.customers', 'sales.ledger', 'sales.orders']);
    expect(again.missing).toEqual(['sales.events']);
    expect(byTable(again)['sales.orders']?.rowsExtracted).toBeLessThanOrEqual(11);
    expect(await rowHashes(db.target, 'landing.orders_copy')).toEqual(await rowHashes(db.source, 'sales.orders'));
    expect(await rowHashes(db.target, 'landing.added')).toEqual(await rowHashes(db.source, 'sales.added'));
  });

  it('fails one table alone (a duplicate key, a merge without a key) and moves the others; exit 1 with every status', async () => {
    const file = await writeFileOf(
      'isolated',
      `tables:
  - table: sales.dupes
    target: {name: dupes_merged}
    strategy: {mode: incremental_merge, unique_key: [id]}
  - table: sales.tmp_scratch
    target: {name: scratch_merged}
    strategy: {mode: incremental_merge}
  - table: sales.customers
    target: {name: customers_iso}
  - table: sales.gone
  - table: sales.ledger
    target: {schema: nowhere}
defaults:
  target: {schema: landing}
  strategy: {mode: full_refresh}
`,
    );
    const summary = await runLocalFile(file);
    expect(summary.status).toBe('failed');
    const tables = byTable(summary);
    expect(tables['sales.dupes']).toMatchObject({ status: 'failed', error: { name: 'DuplicateKeyError' } });
    expect(tables['sales.tmp_scratch']).toMatchObject({ status: 'failed', error: { name: 'ConfigError' } });
    expect(tables['sales.tmp_scratch']?.error?.message).toMatch(/sales\.tmp_scratch has no primary key.*unique_key/);
    expect(tables['sales.customers']).toMatchObject({ status: 'succeeded', rowsInserted: 300 });
    // A table the source does not have, and a target schema that does not exist: each fails alone, before anything is extracted.
    expect(tables['sales.gone']).toMatchObject({ status: 'failed', mode: 'full_refresh', error: { name: 'DatabaseError' } });
    expect(tables['sales.gone']?.error?.message).toMatch(/source table "sales"\."gone" does not exist/);
    expect(tables['sales.ledger']).toMatchObject({ status: 'failed', chunks: 0, error: { name: 'DatabaseError' } });
    expect(tables['sales.ledger']?.error?.message).toMatch(/target schema "nowhere" does not exist.*CREATE SCHEMA "nowhere"/);
    expect(await rowHashes(db.target, 'landing.customers_iso')).toEqual(await rowHashes(db.source, 'sales.customers'));
    const state = await db.target.query<{ pipeline: string; ok: boolean }>(
      `SELECT pipeline, last_success_run_id IS NOT NULL AS ok FROM pgferry.pipeline_state WHERE starts_with(pipeline, 'isolated/') ORDER BY 1`,
    );
    expect(state.rows).toEqual([
      { pipeline: 'isolated/sales.customers', ok: true },
      { pipeline: 'isolated/sales.dupes', ok: false },
      { pipeline: 'isolated/sales.ledger', ok: false },
    ]);

    // On AWS a failed table's result carries only States.TaskFailed: Summarize names the error its runs row recorded.
    const dupes = summary.tables.find((t) => t.table === 'sales.dupes')!;
    const outcome = await summarizeTables(
      {
        pipeline: 'isolated',
        runId: summary.runId,
        tables: [{ ref: '{}', table: dupes.table, target: dupes.target, name: dupes.runId }],
        results: [{ status: 'failed', error: 'States.TaskFailed' }],
        rejected: [],
        warnings: [],
        missing: [],
      },
      {
        pipeline: () => file.entries[0]!.template,
        file: () => file,
        connect: (ref, o) => openConnection(ref, o),
        log: { info: () => undefined, warn: () => undefined, error: () => undefined },
      },
    );
    expect(outcome.failed[0]?.error).toMatch(/^DuplicateKeyError: staged rows hold the key/);
    expect(outcome.failure?.Cause).toMatch(/sales\.dupes \(DuplicateKeyError: /);

    const run = await cli('run', join(dir, 'isolated.yaml'), '--json');
    expect(run.code).toBe(1);
    const json = JSON.parse(run.stdout.at(-1) ?? '{}') as FileRunSummary;
    expect(json.tables.map((t) => [t.table, t.status])).toEqual([
      ['sales.customers', 'succeeded'],
      ['sales.dupes', 'failed'],
      ['sales.gone', 'failed'],
      ['sales.ledger', 'failed'],
      ['sales.tmp_scratch', 'failed'],
    ]);
    // Every table gets its line, those refused before they ran too.
    for (const table of ['sales.dupes', 'sales.tmp_scratch', 'sales.gone'])
      expect(
        run.stderr.some((l) => l.startsWith(`[${table}] failed`)),
        table,
      ).toBe(true);

    // Any spelling of the name: a quoted part is literal.
    const one = await cli('run', join(dir, 'isolated.yaml'), '--json', '--table', '"sales".customers');
    expect(one.code).toBe(0);
    expect((JSON.parse(one.stdout.at(-1) ?? '{}') as FileRunSummary).tables.map((t) => t.table)).toEqual(['sales.customers']);
    const bad = await cli('run', join(dir, 'isolated.yaml'), '--table', 'sales.a.b');
    expect(bad.code).toBe(2);
    expect(bad.stderr.join('\n')).toMatch(/"sales\.a\.b": .*unquoted dots/);
    const unknown = await cli('run', join(dir, 'isolated.yaml'), '--table', 'sales.nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.join('\n')).toMatch(/"sales\.nope" is not a table of this file now/);
  });

  it('two runs of one file at once load every table exactly once, each table by one of the runs', async () => {
    const file = await writeFileOf(
      'twice',
      `tables:
  - table: "sales.*"
    exclude: [sales.dupes, sales.tmp_scratch]
    strategy: {mode: incremental_append}
defaults:
  target: {schema: landing_twice}
  options: {chunk_rows: 100}
`,
    );
    await db.target.query('CREATE SCHEMA landing_twice');
    // The run that takes a table's lease applies only once the other has tried to take it: the two runs overlap on every table.
    const plans = new Map<string, number>();
    const waiters: (() => void)[] = [];
    const wrapTask: NonNullable<Parameters<typeof runLocalFile>[1]>['wrapTask'] = (key, fn) => {
      if (key === 'plan') {
        return async (input, deps) => {
          try {
            return await fn(input, deps);
          } finally {
            const pipeline = (input as { pipeline: string }).pipeline;
            plans.set(pipeline, (plans.get(pipeline) ?? 0) + 1);
            for (const wake of waiters.splice(0)) wake();
          }
        };
      }
      if (key === 'apply') {
        return async (input, deps) => {
          const pipeline = (input as { pipeline: string }).pipeline;
          while ((plans.get(pipeline) ?? 0) < 2) await new Promise<void>((resolve) => waiters.push(resolve));
          return fn(input, deps);
        };
      }
      return fn;
    };
    const [a, b] = await Promise.all([runLocalFile(file, { wrapTask }), runLocalFile(file, { wrapTask })]);
    expect(a?.tables.length).toBe(5);
    for (const table of a?.tables ?? []) {
      const other = b?.tables.find((t) => t.table === table.table);
      expect([table.status, other?.status].sort(), table.table).toEqual(['skipped', 'succeeded']);
    }
    for (const table of ['customers', 'ledger', 'orders', 'added']) {
      expect(await rowHashes(db.target, `landing_twice.${table}`), table).toEqual(await rowHashes(db.source, `sales.${table}`));
    }
  });
});

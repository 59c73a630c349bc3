/**
 * Resolving a multi-table file's entries against a real catalog: one query lists the candidates (LIKE on
 * schema and name), a pure matcher gives each table to the first entry that takes it. Patterns take ordinary
 * tables and partitioned parents, never partitions or views; an exact entry takes whatever it names.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exactPattern, isTablePattern, parseTableName, parseTablePattern, type TablePattern } from '../../lib/config/table-name.ts';
import type { TableRef } from '../../lib/config/types.ts';
import { listSourceTables, listSourceTablesSql, resolveTables, type SourceTable, type TableEntryMatch } from '../../lib/source/tables.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';

const SOURCE_DDL = `
CREATE SCHEMA sales;
CREATE SCHEMA other;
CREATE TABLE sales.orders (id bigint PRIMARY KEY, note text);
-- The key's order is not the columns' order.
CREATE TABLE sales.customers (id int, region text, PRIMARY KEY (region, id));
CREATE TABLE sales.tmp_scratch (x int);
CREATE TABLE sales.tmp_other (x int);
CREATE TABLE sales.no_key (a text);
CREATE TABLE sales.with_include (id int, x int, PRIMARY KEY (id) INCLUDE (x));
CREATE TABLE sales.events (id bigint, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE sales.events_2025 PARTITION OF sales.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE sales.events_2026 PARTITION OF sales.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY RANGE (id);
CREATE TABLE sales.events_2026_low PARTITION OF sales.events_2026 FOR VALUES FROM (0) TO (1000);
CREATE TABLE sales.events_2026_high PARTITION OF sales.events_2026 FOR VALUES FROM (1000) TO (MAXVALUE);
CREATE TABLE sales.never_analyzed (id int) PARTITION BY LIST (id);
CREATE TABLE sales.never_analyzed_1 PARTITION OF sales.never_analyzed FOR VALUES IN (1);
CREATE VIEW sales.order_view AS SELECT * FROM sales.orders;
CREATE MATERIALIZED VIEW sales.order_mv AS SELECT * FROM sales.orders;
CREATE TABLE sales."Odd.Name" (id int PRIMARY KEY);
CREATE TABLE sales."MixedCase" (id int);
CREATE TABLE sales.mixedcase (id int);
CREATE TABLE sales."100%_done" (id int);
CREATE TABLE sales."100xydone" (id int);
CREATE TABLE sales."back\\slash" (id int);
CREATE TABLE sales."backXslash" (id int);
CREATE TABLE sales."commandes_été" (id int);
CREATE TABLE sales."say ""hi""" ("we ""quote""" int PRIMARY KEY);
CREATE TABLE other.orders (id int PRIMARY KEY);
CREATE TABLE public.orders (id int PRIMARY KEY);
INSERT INTO sales.events SELECT g, date '2025-06-01' FROM generate_series(1, 300) g;
INSERT INTO sales.events SELECT g, date '2026-06-01' FROM generate_series(1, 2000) g;
INSERT INTO sales.orders SELECT g, 'n' FROM generate_series(1, 50) g;
ANALYZE sales.events, sales.events_2025, sales.events_2026_low, sales.events_2026_high, sales.orders;`;

const BULK_TABLES = 500;

function pattern(text: string): TablePattern {
  const parsed = parseTablePattern(text);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed;
}

function exact(text: string): TablePattern {
  const parsed = parseTableName(text);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return exactPattern(parsed);
}

/** Entries as the config parser will hand them over, from `[table, exclude?]` pairs in file order. */
function entries(...specs: [string, string[]?][]): TableEntryMatch[] {
  return specs.map(([text, exclude = []], index) => {
    const isExact = !isTablePattern(text);
    return { index, text, exact: isExact, match: isExact ? exact(text) : pattern(text), exclude: exclude.map(pattern) };
  });
}

const names = (tables: readonly { ref: TableRef }[]): string[] => tables.map((t) => `${t.ref.schema}.${t.ref.name}`);

describe('Feature: resolving table entries against the source catalog', () => {
  let server: TestPostgres;
  let db: pg.Client;

  beforeAll(async () => {
    server = await startTestPostgres();
    db = await server.client(await server.createDatabase('tables'));
    await db.query(SOURCE_DDL);
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function resolve(list: TableEntryMatch[]): Promise<ReturnType<typeof resolveTables> & { rows: SourceTable[] }> {
    const rows = await listSourceTables(
      db,
      list.map((e) => e.match),
    );
    return { ...resolveTables(list, rows), rows };
  }

  it('lists every relation kind a pattern names, with primary keys in key order and row estimates', async () => {
    const rows = await listSourceTables(db, [pattern('sales.*')]);
    const byName = new Map(rows.map((r) => [r.name, r]));
    expect(byName.get('orders')).toEqual({ schema: 'sales', name: 'orders', relkind: 'r', partition: false, primaryKey: ['id'], estimatedRows: 50 });
    expect(byName.get('customers')?.primaryKey).toEqual(['region', 'id']);
    expect(byName.get('with_include')?.primaryKey).toEqual(['id']);
    expect(byName.get('no_key')?.primaryKey).toBeNull();
    expect(byName.get('say "hi"')?.primaryKey).toEqual(['we "quote"']);
    // A partitioned parent's estimate is the sum over its leaves, through a sub-partitioned partition.
    expect(byName.get('events')).toMatchObject({ relkind: 'p', partition: false, primaryKey: ['id', 'at'], estimatedRows: 2300 });
    expect(byName.get('events_2025')).toMatchObject({ relkind: 'r', partition: true, estimatedRows: 300 });
    expect(byName.get('events_2026')).toMatchObject({ relkind: 'p', partition: true });
    // reltuples < 0 (never vacuumed or analyzed) is unknown, for a table and for a parent whose leaves are all unknown.
    expect(byName.get('no_key')?.estimatedRows).toBeNull();
    expect(byName.get('never_analyzed')?.estimatedRows).toBeNull();
    expect(byName.get('order_view')).toMatchObject({ relkind: 'v', primaryKey: null, estimatedRows: null });
    expect(byName.get('order_mv')?.relkind).toBe('m');
    expect(rows.every((r) => r.schema === 'sales')).toBe(true);
  });

  it('lists rows in COLLATE "C" order: upper case before lower case, bytes after ASCII', async () => {
    const rows = await listSourceTables(db, [pattern('sales.*')]);
    const listed = rows.map((r) => r.name);
    expect(listed).toEqual([...listed].sort());
    expect(listed.indexOf('MixedCase')).toBeLessThan(listed.indexOf('customers'));
    expect(listed.at(-1)).toBe('with_include');
  });

  it('a pattern takes ordinary tables and partitioned parents, never partitions, views or materialized views', async () => {
    const { tables, warnings } = await resolve(entries(['sales.*', ['sales.tmp_*']]));
    expect(names(tables)).toEqual([
      'sales.100%_done',
      'sales.100xydone',
      'sales.MixedCase',
      'sales.Odd.Name',
      'sales.backXslash',
      'sales.back\\slash',
      'sales.commandes_été',
      'sales.customers',
      'sales.events',
      'sales.mixedcase',
      'sales.never_analyzed',
      'sales.no_key',
      'sales.orders',
      'sales.say "hi"',
      'sales.with_include',
    ]);
    expect(tables.every((t) => t.entry === 0 && t.source !== undefined)).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('a view, a materialized view and a partition are taken only by an exact entry, which also lists a missing table', async () => {
    const { tables, warnings } = await resolve(entries(['sales.or*'], ['sales.order_view'], ['sales.order_mv'], ['sales.events_2025'], ['sales.gone']));
    expect(tables.map((t) => [`${t.ref.schema}.${t.ref.name}`, t.entry, t.source?.relkind])).toEqual([
      ['sales.events_2025', 3, 'r'],
      ['sales.gone', 4, undefined],
      ['sales.order_mv', 2, 'm'],
      ['sales.order_view', 1, 'v'],
      ['sales.orders', 0, 'r'],
    ]);
    expect(warnings).toEqual([]);
  });

  it('quoted names: a dot or a quote inside double quotes is part of the name, case is never folded', async () => {
    expect(names((await resolve(entries(['sales."Odd.Name"']))).tables)).toEqual(['sales.Odd.Name']);
    expect(names((await resolve(entries(['sales."Odd."*']))).tables)).toEqual(['sales.Odd.Name']);
    expect(names((await resolve(entries(['sales."say ""hi"""']))).tables)).toEqual(['sales.say "hi"']);
    expect(names((await resolve(entries(['sales.Mixed*']))).tables)).toEqual(['sales.MixedCase']);
    expect(names((await resolve(entries(['sales.mixed*']))).tables)).toEqual(['sales.mixedcase']);
    expect(names((await resolve(entries(['sales.commandes_?t?']))).tables)).toEqual(['sales.commandes_été']);
    expect(names((await resolve(entries(['*.orders']))).tables)).toEqual(['other.orders', 'public.orders', 'sales.orders']);
    expect(names((await resolve(entries(['orders']))).tables)).toEqual(['public.orders']);
  });

  it('escapes %, _ and \\ in the LIKE prefilter itself, not only in the matcher after it', async () => {
    const run = async (text: string): Promise<string[]> => {
      const { rows } = await db.query<{ name: string }>(listSourceTablesSql([pattern(text)]));
      return rows.map((r) => r.name);
    };
    expect(await run('sales.100%_*')).toEqual(['100%_done']);
    expect(await run('sales."back\\slash"')).toEqual(['back\\slash']);
    expect(await run('sales.back\\*')).toEqual(['back\\slash']);
  });

  it('excludes: a pattern or an exact name, each only on its own entry', async () => {
    const { tables } = await resolve(entries(['sales.*', ['sales.tmp_*', 'sales.no_key', 'sales.*Case']], ['sales.tmp_scratch']));
    expect(tables.map((t) => [`${t.ref.schema}.${t.ref.name}`, t.entry])).toEqual([
      ['sales.100%_done', 0],
      ['sales.100xydone', 0],
      ['sales.Odd.Name', 0],
      ['sales.backXslash', 0],
      ['sales.back\\slash', 0],
      ['sales.commandes_été', 0],
      ['sales.customers', 0],
      ['sales.events', 0],
      ['sales.mixedcase', 0],
      ['sales.never_analyzed', 0],
      ['sales.orders', 0],
      ['sales.say "hi"', 0],
      ['sales.tmp_scratch', 1],
      ['sales.with_include', 0],
    ]);
  });

  it('the first entry that takes a table wins, whichever kind of entry comes first', async () => {
    const exactFirst = await resolve(entries(['sales.orders'], ['sales.o*']));
    expect(exactFirst.tables.map((t) => [t.ref.name, t.entry])).toEqual([['orders', 0]]);
    expect(exactFirst.warnings).toEqual(['tables[1]: "sales.o*" gets no table: each table it matches is excluded or taken by an earlier entry']);
    const patternFirst = await resolve(entries(['sales.o*'], ['sales.orders'], ['sales.order_view']));
    expect(patternFirst.tables.map((t) => [t.ref.name, t.entry])).toEqual([
      ['order_view', 2],
      ['orders', 0],
    ]);
    // An excluded table goes on to the next entry that takes it.
    const passedOn = await resolve(entries(['sales.*', ['sales.tmp_*']], ['sales.tmp_*']));
    expect(passedOn.tables.filter((t) => t.entry === 1).map((t) => t.ref.name)).toEqual(['tmp_other', 'tmp_scratch']);
    // The same table named twice is resolved once, for the first entry.
    const twice = await resolve(entries(['sales.gone'], ['sales.gone'], ['sales.orders'], ['sales.orders']));
    expect(twice.tables.map((t) => [t.ref.name, t.entry])).toEqual([
      ['gone', 0],
      ['orders', 2],
    ]);
  });

  it('a pattern that matches no table is a warning, not a failure, and names its entry', async () => {
    const { tables, warnings } = await resolve(entries(['sales.orders'], ['sales.zz*'], ['nowhere.*'], ['sales.order_v*']));
    expect(names(tables)).toEqual(['sales.orders']);
    expect(warnings).toEqual([
      'tables[1]: "sales.zz*" matches no table',
      'tables[2]: "nowhere.*" matches no table',
      'tables[3]: "sales.order_v*" matches no table',
    ]);
  });

  it('never lists system schemas, TOAST tables or temporary tables', async () => {
    await db.query('CREATE TEMPORARY TABLE temp_here (id int)');
    const rows = await listSourceTables(db, [pattern('*.*')]);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => /^(pg_|information_schema$)/.test(r.schema))).toEqual([]);
    expect(await listSourceTables(db, [pattern('pg_catalog.*'), pattern('information_schema.*'), pattern('pg_*.*')])).toEqual([]);
    expect(await listSourceTables(db, [])).toEqual([]);
  });

  it(`${BULK_TABLES} tables resolve with exactly one catalog query`, async () => {
    await db.query(`CREATE SCHEMA bulk;
DO $$ BEGIN FOR i IN 1..${BULK_TABLES} LOOP
  EXECUTE format('CREATE TABLE bulk.%I (id bigint PRIMARY KEY, v text)', 't_' || lpad(i::text, 4, '0'));
END LOOP; END $$`);
    const list = entries(['bulk.t_000?', ['bulk.t_0001']], ['bulk.*'], ['bulk.t_0500'], ['sales.orders']);
    const spy = vi.spyOn(db, 'query');
    try {
      const rows = await listSourceTables(
        db,
        list.map((e) => e.match),
      );
      const { tables, warnings } = resolveTables(list, rows);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(tables).toHaveLength(BULK_TABLES + 1);
      expect(tables.filter((t) => t.entry === 0)).toHaveLength(8);
      expect(tables.filter((t) => t.entry === 1)).toHaveLength(BULK_TABLES - 8);
      expect(tables.every((t) => t.ref.schema !== 'bulk' || t.source?.primaryKey?.[0] === 'id')).toBe(true);
      expect(tables.at(-1)?.ref).toEqual({ schema: 'sales', name: 'orders' });
      expect(warnings).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});

/** `pgferry plan`, `check` and `state` on a file that lists tables (README.md, "Commands"). */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCommand } from '../../lib/cli/commands/plan.ts';
import { openConnection } from '../../lib/connections/index.ts';
import { capture, cli } from '../helpers/cli.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';

const SOURCE = `
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id bigint PRIMARY KEY, amount numeric(12,2), updated_at timestamptz(6) NOT NULL);
INSERT INTO sales.orders SELECT g, g / 10.0, timestamptz '2026-06-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 300) g;
CREATE TABLE sales.customers (id int PRIMARY KEY, name text);
INSERT INTO sales.customers SELECT g, 'c' || g FROM generate_series(1, 50) g;
CREATE TABLE sales.events (k text, v int);
INSERT INTO sales.events VALUES ('a', 1);
CREATE TABLE sales.tmp_scratch (id int PRIMARY KEY);
CREATE TABLE sales.gone (id int PRIMARY KEY);
INSERT INTO sales.gone VALUES (1);
CREATE SCHEMA wide;
DO $$ BEGIN FOR i IN 1..500 LOOP EXECUTE format('CREATE TABLE wide.%I (id int PRIMARY KEY, v text)', 't' || lpad(i::text, 3, '0')); END LOOP; END $$;`;

/** The same database URL, logged in as another role. */
function as(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = encodeURIComponent(password);
  return u.toString();
}

describe('Feature: plan, check and state of a file that lists tables', () => {
  const db = useSourceAndTarget(SOURCE);
  let dir: string;
  const reader = `tables_reader_${randomBytes(3).toString('hex')}`;
  const READER_PW = 'tables-reader-pw';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgferry-tables-cli-'));
    await db.target.query('CREATE SCHEMA landing');
    await db.source.query(`CREATE ROLE ${reader} LOGIN PASSWORD '${READER_PW}'; GRANT USAGE ON SCHEMA sales TO ${reader};
      GRANT SELECT ON sales.customers TO ${reader}`);
  });

  afterAll(async () => {
    await db.source?.query(`DROP OWNED BY ${reader}; DROP ROLE IF EXISTS ${reader}`).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Writes a pipeline file whose source and sink are the test's databases. */
  async function writeTables(name: string, body: string, sourceUrl = db.sourceUrl): Promise<string> {
    const path = join(dir, `${name}.yaml`);
    await writeFile(
      path,
      `name: ${name}
source: {type: postgres, connection_type: url, connection_id: "${sourceUrl}"}
sink: {type: postgres, connection_type: url, connection_id: "${db.targetUrl}"}
${body}`,
    );
    return path;
  }

  const SALES = `tables:
  - table: sales.orders
    target: {name: orders_copy}
    options: {incremental_strategy: column, incremental_column: updated_at}
    strategy: {mode: incremental_merge, unique_key: [id]}
  - table: "sales.*"
    exclude: ["sales.tmp_*"]
    strategy: {mode: incremental_merge}
  - table: "nowhere.*"
defaults:
  target: {schema: landing}
  strategy: {mode: full_refresh}
`;

  describe('plan', () => {
    it('lists what each entry resolves to now, the table that cannot run, the pattern that matches nothing and the table left with state', async () => {
      const file = await writeTables('planned', SALES);
      // A table loaded once and then dropped at the source: its state stays, and plan names it.
      expect((await cli('run', file, '--table', 'sales.gone')).code).toBe(0);
      await db.source.query('DROP TABLE sales.gone');

      const before = await db.target.query(`SELECT count(*)::int AS n FROM pgferry.runs`);
      const result = await cli('plan', file);
      expect(result.code).toBe(2);
      expect(result.stdout).toEqual([
        'pipeline planned: 3 table(s) from 3 entries, 1 that cannot run as configured',
        'sales.customers -> landing.customers  (incremental_merge / delete_insert)  entry tables[1]',
        expect.stringMatching(
          /^sales\.events -> landing\.events {2}error: tables\[1\]\.strategy\.unique_key: table sales\.events has no primary key, .* {2}entry tables\[1\]$/,
        ),
        'sales.orders -> landing.orders_copy  (incremental_merge / delete_insert)  entry tables[0]',
        'warning: tables[2]: "nowhere.*" matches no table',
        'missing: sales.gone has state from earlier runs but no entry resolves to it now (dropped at the source?); its state is kept',
      ]);
      // Read-only: no run recorded, no target created.
      expect((await db.target.query(`SELECT count(*)::int AS n FROM pgferry.runs`)).rows[0].n).toBe(before.rows[0].n);
      expect((await db.target.query(`SELECT to_regclass('landing.customers') IS NULL AS absent`)).rows[0].absent).toBe(true);
    });

    it('--table prints the full plan of each named table under its header; an unknown name exits 2 with the resolution message', async () => {
      const file = await writeTables('planned_one', SALES);
      const result = await cli('plan', file, '--table', 'sales.orders', '--table', '"sales".customers');
      expect(result.code).toBe(0);
      const text = result.stdout.join('\n');
      const orders = text.indexOf('-- ======== table sales.orders -> landing.orders_copy (entry tables[0])');
      const customers = text.indexOf('-- ======== table sales.customers -> landing.customers (entry tables[1])');
      expect(customers).toBeGreaterThanOrEqual(0);
      expect(orders).toBeGreaterThan(customers);
      const ordersPlan = text.slice(orders);
      expect(ordersPlan).toContain('-- pipeline planned_one/sales.orders: incremental_merge / delete_insert');
      expect(ordersPlan).toMatch(/COPY \(SELECT "id", "amount", "updated_at" FROM "sales"\."orders"/);
      expect(ordersPlan).toContain('INSERT INTO "landing"."orders_copy"');
      expect(text.slice(customers, orders)).toMatch(/COPY \(SELECT "id", "name" FROM "sales"\."customers"/);

      // A table that cannot run as configured: its header, its reason on stderr, exit 2; the other named table is still planned.
      const failing = await cli('plan', file, '--table', 'sales.events', '--table', 'sales.orders');
      expect(failing.code).toBe(2);
      expect(failing.stdout[0]).toBe('-- ======== table sales.events -> landing.events (entry tables[1])');
      expect(failing.stderr.join('\n')).toMatch(/^\[sales\.events\] .*tables\[1\]\.strategy\.unique_key: table sales\.events has no primary key/);
      expect(failing.stdout).toContain('-- pipeline planned_one/sales.orders: incremental_merge / delete_insert');

      const unknown = await cli('plan', file, '--table', 'sales.nope');
      expect(unknown.code).toBe(2);
      expect(unknown.stderr.join('\n')).toMatch(
        /--table: "sales\.nope" is not a table of this file now; it resolves to sales\.customers, sales\.events, sales\.orders/,
      );
    });

    it('a pattern that resolves to 500 tables: exactly one query on the source, and one line per table', async () => {
      const file = await writeTables('wide', `tables:\n  - table: "wide.*"\n    strategy: {mode: incremental_merge}\n`);
      let sourceQueries = 0;
      const io = capture();
      const code = await planCommand(file, {}, io, {
        connect: async (ref, options) => {
          const client = await openConnection(ref, options);
          if (ref.connection_id === db.sourceUrl) {
            const query = client.query.bind(client) as (...args: unknown[]) => unknown;
            (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
              sourceQueries += 1;
              return query(...args);
            };
          }
          return client;
        },
      });
      expect(io.stderr).toEqual([]);
      expect(code).toBe(0);
      expect(sourceQueries).toBe(1);
      const lines = io.stdout.filter((l) => l.includes(' -> '));
      expect(lines).toHaveLength(500);
      expect(lines[0]).toBe('wide.t001 -> wide.t001  (incremental_merge / delete_insert)  entry tables[0]');
      expect(lines[499]).toBe('wide.t500 -> wide.t500  (incremental_merge / delete_insert)  entry tables[0]');
    });
  });

  describe('check', () => {
    it('checks every table under its header; the exit code is the worst of the tables', async () => {
      // The source role may read sales.customers only.
      const file = await writeTables(
        'checked',
        `tables:
  - table: sales.customers
  - table: sales.orders
  - table: sales.events
    strategy: {mode: incremental_merge}
defaults:
  target: {schema: landing}
  strategy: {mode: full_refresh}
`,
        as(db.sourceUrl, reader, READER_PW),
      );
      const one = await cli('check', file, '--table', 'sales.customers');
      expect(one.code).toBe(0);
      expect(one.stdout[0]).toBe('== table sales.customers -> landing.customers (entry tables[0])');
      expect(one.stdout).toContain('pgferry check: pipeline checked/sales.customers');
      expect(one.stdout.filter((l) => l.startsWith('== table'))).toHaveLength(1);

      const two = await cli('check', file, '--table', 'sales.customers', '--table', 'sales.orders', '--json');
      expect(two.code).toBe(1);
      const json = JSON.parse(two.stdout.at(-1) ?? '{}') as { ok: boolean; tables: { table: string; report: { ok: boolean; missing: string[] } }[] };
      expect(json.ok).toBe(false);
      expect(json.tables.map((t) => [t.table, t.report.ok])).toEqual([
        ['sales.customers', true],
        ['sales.orders', false],
      ]);
      expect(json.tables[1]?.report.missing.join('\n')).toMatch(/SELECT on table "sales"\."orders"/);
      expect(two.stderr).toContain('== table sales.orders -> landing.orders (entry tables[1])');

      const all = await cli('check', file);
      expect(all.code).toBe(2);
      expect(all.stdout.filter((l) => l.startsWith('== table'))).toEqual([
        '== table sales.customers -> landing.customers (entry tables[0])',
        '== table sales.events -> landing.events (entry tables[2])',
        '== table sales.orders -> landing.orders (entry tables[1])',
      ]);
      expect(all.stdout.join('\n')).toMatch(/✗ ConfigError: .*sales\.events has no primary key/);
      expect(all.stdout.at(-1)).toBe('pgferry check: pipeline checked: 3 table(s), 1 ok, 2 not');
    });
  });

  describe('state', () => {
    const STATELY = `tables:
  - table: sales.orders
    options: {incremental_strategy: column, incremental_column: updated_at}
    strategy: {mode: incremental_merge, unique_key: [id]}
  - table: sales.customers
    options: {incremental_strategy: xmin}
    strategy: {mode: incremental_merge}
defaults:
  target: {schema: landing}
`;

    const states = async (prefix: string) =>
      (
        await db.target.query<{ pipeline: string; cursor: unknown }>(
          `SELECT pipeline, cursor FROM pgferry.pipeline_state WHERE starts_with(pipeline, $1) ORDER BY pipeline COLLATE "C"`,
          [`${prefix}/`],
        )
      ).rows;

    it('show lists every table with state; reset and unlock need --table or --all; a held lease is refused for its table alone', async () => {
      const file = await writeTables('stately', STATELY);
      const run = await cli('run', file);
      expect(run.code).toBe(0);

      const shown = await cli('state', 'show', file);
      expect(shown.code).toBe(0);
      const json = JSON.parse(shown.stdout.join('\n')) as {
        pipeline: string;
        tables: { table: string; cursor: unknown; lastSuccessRunId: string | null; leaseRunId: string | null; lastRun: { status: string } | null }[];
      };
      expect(json.pipeline).toBe('stately');
      expect(json.tables.map((t) => t.table)).toEqual(['sales.customers', 'sales.orders']);
      for (const t of json.tables) {
        expect(t.cursor, t.table).not.toBeNull();
        expect(t.lastSuccessRunId, t.table).toBeTruthy();
        expect(t.leaseRunId, t.table).toBeNull();
        expect(t.lastRun?.status, t.table).toBe('succeeded');
      }
      const one = JSON.parse((await cli('state', 'show', file, '--table', 'sales.orders')).stdout.join('\n')) as typeof json;
      expect(one.tables.map((t) => t.table)).toEqual(['sales.orders']);

      for (const command of ['reset', 'unlock']) {
        const bare = await cli('state', command, file);
        expect(bare.code, command).toBe(2);
        expect(bare.stderr.join('\n'), command).toContain(
          `state ${command} needs --table NAME (repeatable) for some tables, or --all for every table with state`,
        );
      }
      expect((await cli('state', 'reset', file, '--all', '--table', 'sales.orders')).code).toBe(2);

      const reset = await cli('state', 'reset', file, '--table', 'sales.customers');
      expect(reset.code).toBe(0);
      expect(reset.stderr).toEqual(['pipeline stately/sales.customers: cursor reset; the next run extracts everything']);
      expect((await states('stately')).map((s) => [s.pipeline, s.cursor === null])).toEqual([
        ['stately/sales.customers', true],
        ['stately/sales.orders', false],
      ]);

      // A live run holds the lease of sales.orders: --all resets the other table and exits 3; unlock --table releases it.
      await db.target.query(
        `UPDATE pgferry.pipeline_state SET cursor = '{"x": 1}', lease_run_id = 'another-run', lease_until = now() + interval '1 hour' WHERE pipeline LIKE 'stately/%'`,
      );
      const held = await cli('state', 'reset', file, '--all');
      expect(held.code).toBe(3);
      expect((await states('stately')).map((s) => [s.pipeline, s.cursor])).toEqual([
        ['stately/sales.customers', { x: 1 }],
        ['stately/sales.orders', { x: 1 }],
      ]);
      await db.target.query(`UPDATE pgferry.pipeline_state SET lease_run_id = NULL, lease_until = NULL WHERE pipeline = 'stately/sales.customers'`);
      const partly = await cli('state', 'reset', file, '--all');
      expect(partly.code).toBe(3);
      expect(partly.stderr.join('\n')).toMatch(/pipeline stately\/sales\.orders: not reset: LeaseHeldError/);
      expect((await states('stately')).map((s) => [s.pipeline, s.cursor])).toEqual([
        ['stately/sales.customers', null],
        ['stately/sales.orders', { x: 1 }],
      ]);
      const unlocked = await cli('state', 'unlock', file, '--table', 'sales.orders');
      expect(unlocked.code).toBe(0);
      expect(unlocked.stderr).toEqual(['pipeline stately/sales.orders: released the lease of run another-run (marked failed)']);
      expect((await cli('state', 'reset', file, '--all')).code).toBe(0);
      expect((await states('stately')).map((s) => s.cursor)).toEqual([null, null]);
    });

    it('export / import round trip into another state database, restricted by --table; a single-table export goes onto one --table', async () => {
      const file = await writeTables('moved', STATELY);
      expect((await cli('run', file)).code).toBe(0);
      const exported = await cli('state', 'export', file);
      expect(exported.code).toBe(0);
      const json = JSON.parse(exported.stdout.join('\n')) as { format: string; pipeline: string; tables: { table: string; cursor: unknown }[] };
      expect(json).toMatchObject({ format: 'pgferry-state-tables/1', pipeline: 'moved' });
      expect(json.tables.map((t) => t.table)).toEqual(['sales.customers', 'sales.orders']);
      const before = await states('moved');
      expect(json.tables.map((t) => t.cursor)).toEqual(before.map((s) => s.cursor));
      const exportFile = join(dir, 'moved-state.json');
      await writeFile(exportFile, exported.stdout.join('\n'));

      // The same file against another state database.
      const otherUrl = await db.server.createDatabase('tables_state');
      const other = await db.server.client(otherUrl);
      const otherFile = join(dir, 'moved-other.yaml');
      await writeFile(otherFile, `${await readFile(file, 'utf8')}state: {connection_type: url, connection_id: "${otherUrl}"}\n`);
      const restricted = await cli('state', 'import', otherFile, exportFile, '--table', 'sales.orders');
      expect(restricted.code).toBe(0);
      const imported = async () => (await other.query(`SELECT pipeline, cursor FROM pgferry.pipeline_state ORDER BY pipeline COLLATE "C"`)).rows;
      expect(await imported()).toEqual(before.filter((s) => s.pipeline === 'moved/sales.orders'));
      expect((await cli('state', 'import', otherFile, exportFile)).code).toBe(0);
      expect(await imported()).toEqual(before);
      const absent = await cli('state', 'import', otherFile, exportFile, '--table', 'sales.nope');
      expect(absent.code).toBe(2);
      expect(absent.stderr.join('\n')).toContain('holds no cursor for "sales.nope"');

      // A single-table pipeline's export: onto exactly one --table.
      const legacy = join(dir, 'legacy.yaml');
      await writeFile(
        legacy,
        `name: legacy_orders
source: {type: postgres, connection_type: url, connection_id: "${db.sourceUrl}", table: {schema: sales, name: orders}, options: {incremental_strategy: column, incremental_column: updated_at}}
sink: {type: postgres, connection_type: url, connection_id: "${db.targetUrl}", table: {schema: landing, name: legacy_orders}, strategy: {mode: incremental_merge, unique_key: [id]}}
`,
      );
      expect((await cli('run', legacy)).code).toBe(0);
      const single = await cli('state', 'export', legacy);
      expect(JSON.parse(single.stdout.join('\n'))).toMatchObject({ format: 'pgferry-state/1', pipeline: 'legacy_orders' });
      const singleFile = join(dir, 'legacy-state.json');
      await writeFile(singleFile, single.stdout.join('\n'));
      for (const args of [[], ['--table', 'sales.orders', '--table', 'sales.customers']]) {
        const refused = await cli('state', 'import', otherFile, singleFile, ...args);
        expect(refused.code, args.join(' ')).toBe(2);
        expect(refused.stderr.join('\n')).toContain('is the export of the single-table pipeline legacy_orders');
      }
      await other.query(`UPDATE pgferry.pipeline_state SET cursor = NULL WHERE pipeline = 'moved/sales.orders'`);
      const onto = await cli('state', 'import', otherFile, singleFile, '--table', 'sales.orders');
      expect(onto.code).toBe(0);
      const legacyCursor = (await db.target.query(`SELECT cursor FROM pgferry.pipeline_state WHERE pipeline = 'legacy_orders'`)).rows[0]?.cursor;
      expect(legacyCursor).toBeTruthy();
      expect((await other.query(`SELECT cursor FROM pgferry.pipeline_state WHERE pipeline = 'moved/sales.orders'`)).rows[0]?.cursor).toEqual(legacyCursor);

      // The forms do not mix the other way, and a single-table file takes no --table.
      const wrongWay = await cli('state', 'import', legacy, exportFile);
      expect(wrongWay.code).toBe(2);
      expect(wrongWay.stderr.join('\n')).toContain('is the export of a file that lists tables');
      for (const args of [
        ['state', 'show', legacy, '--table', 'sales.orders'],
        ['state', 'reset', legacy, '--all'],
        ['plan', legacy, '--table', 'sales.orders'],
        ['check', legacy, '--table', 'sales.orders'],
      ]) {
        const refused = await cli(...args);
        expect(refused.code, args.join(' ')).toBe(2);
        expect(refused.stderr.join('\n'), args.join(' ')).toContain('only for a file that lists tables');
      }
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { openConnection } from '../../lib/connections/index.ts';
import { runLocal, type LocalRunOptions } from '../../lib/local/runner.ts';
import { copyBetween } from '../../lib/db/index.ts';
import { TransientDatabaseError } from '../../lib/errors.ts';
import type { ChunkInput } from '../../lib/workflow/types.ts';
import { startSourceAndTarget, type TestPostgres } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { exceptAllBothWays, rowHashes } from '../helpers/compare.ts';

const ALL_TYPES_DDL = `
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN public.posint AS integer CHECK (VALUE > 0);
CREATE TABLE public.all_types (
  id integer PRIMARY KEY,
  n38 numeric(38,18), n numeric, f8 float8, i2 int2, i4 int4, i8 int8,
  t text, jb jsonb, js json, ta text[], ia int[], b bytea, u uuid,
  tz timestamptz, ts timestamp, d date, iv interval, tm time, bo boolean, ip inet, m public.mood, dom public.posint
)`;

const ALL_TYPES_ROWS = `
INSERT INTO public.all_types VALUES
 (1, 12345678901234567890.123456789012345678, 'NaN', 'NaN', -32768, -2147483648, -9223372036854775808,
  E'tab\\there\\nnewline \\\\ backslash \\\\. quote'' dq"', '{"a": [1, 2, {"b": null}]}', '{"x":  1,  "x": 2}',
  ARRAY['a', NULL, 'with "quotes"', 'comma,brace}'], ARRAY[1, 2, 3], '\\x00ff00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '2026-06-03 12:34:56.123456+00', '2026-06-03 12:34:56.654321', '2026-06-03', '1 year 2 mons 3 days 04:05:06.789', '23:59:59.999999', true, '192.168.0.1/24', 'happy'),
 (2, -0.000000000000000001, 123456789012345678901234567890.12345678901234567890, 'Infinity', 32767, 2147483647, 9223372036854775807,
  '\\.', '[]', '[]', ARRAY[]::text[], ARRAY[]::int[], '\\x', '00000000-0000-0000-0000-000000000000',
  'infinity', 'infinity', 'infinity', '-178000000 years', '00:00:00', false, '::1', 'sad'),
 (3, 0, -1e-30, '-Infinity', 0, 0, 0, '', 'null', 'null', ARRAY[NULL]::text[], ARRAY[NULL]::int[], '\\x5c2e', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '-infinity', '-infinity', '-infinity', '-1 days -00:00:01', '12:00:00', NULL, '2001:db8::/32', 'ok'),
 (4, NULL, NULL, '-0', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, 1, 1, 1.5e300, 1, 1, 1, repeat('0123456789', 1048576), '{"big": true}', '{"unicode": "\\u00e9 ü 日本"}', ARRAY['ü', '日本'], ARRAY[-1], decode(repeat('00', 100), 'hex'),
  'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '1970-01-01 00:00:00+00', '0001-01-01 00:00:00', '0001-01-01', '0 seconds', '00:00:00.000001', true, '10.0.0.1', 'sad');
UPDATE public.all_types SET dom = id WHERE id <= 3;
INSERT INTO public.all_types (id, t, dom) SELECT g, 'filler ' || g, g FROM generate_series(6, 2000) g;
ANALYZE public.all_types;
`;

const COLUMNS = ['id', 'n38', 'n', 'f8', 'i2', 'i4', 'i8', 't', 'jb', 'js', 'ta', 'ia', 'b', 'u', 'tz', 'ts', 'd', 'iv', 'tm', 'bo', 'ip', 'm', 'dom'];

describe('Feature: full_refresh through the local state machine', () => {
  let server: TestPostgres;
  let sourceUrl: string;
  let targetUrl: string;
  let source: pg.Client;
  let target: pg.Client;

  beforeAll(async () => {
    ({ server, sourceUrl, targetUrl, source, target } = await startSourceAndTarget());
    await source.query(ALL_TYPES_DDL);
    await source.query(ALL_TYPES_ROWS);
    await target.query(`CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy'); CREATE DOMAIN public.posint AS integer CHECK (VALUE > 0)`);
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** Copies the target table back into the source database, so EXCEPT ALL can compare both in one query. */
  async function pullBack(table: string): Promise<string> {
    await source.query(`DROP TABLE IF EXISTS public.pulled; CREATE TABLE public.pulled (LIKE public.all_types)`);
    await copyBetween(
      target,
      source,
      `COPY (SELECT ${COLUMNS.map((c) => `"${c}"`).join(', ')} FROM ${table}) TO STDOUT (FORMAT binary)`,
      'COPY public.pulled FROM STDIN (FORMAT binary)',
    );
    return 'public.pulled';
  }

  for (const overwrite of ['truncate_insert', 'exchange'] as const) {
    it(`loads every type exactly with ${overwrite}, in several chunks`, async () => {
      const config = pipelineConfig(sourceUrl, targetUrl, {
        name: `types_${overwrite}`,
        source: { table: { schema: 'public', name: 'all_types' } },
        options: { chunk_rows: 400, max_parallel_chunks: 3 },
        sink: { table: { schema: 'public', name: `all_types_${overwrite}` } },
        strategy: { overwrite_type: overwrite },
      });
      const summary = await runLocal(config);
      expect(summary.error).toBeUndefined();
      expect(summary.status).toBe('succeeded');
      expect(summary.rowsExtracted).toBe(2000);
      expect(summary.rowsInserted).toBe(2000);
      expect(summary.chunks).toBeGreaterThan(2);

      const targetTable = `public.all_types_${overwrite}`;
      expect(await rowHashes(target, targetTable)).toEqual(await rowHashes(source, 'public.all_types'));
      const pulled = await pullBack(targetTable);
      expect(await exceptAllBothWays(source, 'public.all_types', pulled, COLUMNS, ['js'])).toEqual({ missing: 0, extra: 0 });
      const domain = await target.query(
        `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = '${targetTable}'::regclass AND attname = 'dom'`,
      );
      expect(domain.rows[0].t).toBe('posint');
      const nanAndZero = await target.query(`SELECT f8::text AS f8 FROM ${targetTable} WHERE id IN (1, 4) ORDER BY id`);
      expect(nanAndZero.rows.map((r) => r.f8)).toEqual(['NaN', '-0']);
      const staged = await target.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'pgferry_staging'`);
      expect(staged.rows[0].n).toBe(0);

      // A second run replaces the rows rather than adding to them, and keeps the key a DBA added in between.
      await source.query(`UPDATE public.all_types SET t = 'changed' WHERE id = 6`);
      await target.query(`ALTER TABLE ${targetTable} ADD PRIMARY KEY (id)`);
      const logged: { message: string; fields?: Record<string, unknown> }[] = [];
      const log = {
        info: (message: string, fields?: Record<string, unknown>) => void logged.push({ message, fields }),
        warn: () => undefined,
        error: () => undefined,
      };
      const again = await runLocal(config, { log });
      expect(again.status).toBe('succeeded');
      expect(again.rowsDeleted).toBe(2000);
      // exchange builds the primary key on staging and analyzes it before its transaction; truncate_insert has nothing to do ahead.
      const ahead = logged.filter((l) => l.message === 'work ahead of the apply transaction').map((l) => ({ jobs: l.fields?.jobs, done: l.fields?.done }));
      expect(ahead).toEqual(overwrite === 'exchange' ? [{ jobs: 2, done: 2 }] : []);
      if (overwrite === 'exchange') {
        const statistics = await target.query(`SELECT count(*)::int AS n FROM pg_stats WHERE schemaname = 'public' AND tablename = 'all_types_exchange'`);
        expect(statistics.rows[0].n).toBe(COLUMNS.length);
      }
      const key = await target.query(`SELECT conname FROM pg_constraint WHERE conrelid = '${targetTable}'::regclass AND contype = 'p'`);
      expect(key.rows).toEqual([{ conname: `all_types_${overwrite}_pkey` }]);
      await target.query(`ALTER TABLE ${targetTable} DROP CONSTRAINT all_types_${overwrite}_pkey`);
      expect(await rowHashes(target, targetTable)).toEqual(await rowHashes(source, 'public.all_types'));
      await source.query(`UPDATE public.all_types SET t = 'filler 6' WHERE id = 6`);
    });
  }

  it('exchange runs as before when no connection opens for the work ahead: its transaction builds the indexes and analyzes', async () => {
    await source.query(
      `CREATE TABLE public.ahead_src (id int PRIMARY KEY, v text NOT NULL); INSERT INTO public.ahead_src SELECT g, 'v' || g FROM generate_series(1, 1500) g`,
    );
    await target.query(
      `CREATE TABLE public.ahead_dst (id int PRIMARY KEY, v text NOT NULL); CREATE INDEX ahead_dst_v ON public.ahead_dst (v); INSERT INTO public.ahead_dst VALUES (1, 'old')`,
    );
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'ahead_refused',
      source: { table: { schema: 'public', name: 'ahead_src' } },
      options: { chunk_rows: 500 },
      sink: { table: { schema: 'public', name: 'ahead_dst' } },
      strategy: { overwrite_type: 'exchange' },
    });
    // The apply's own connection (state and target share it) opens; every further one during apply is refused.
    let inApply = false;
    let opened = 0;
    const wrapTask: LocalRunOptions['wrapTask'] = (key, fn) =>
      key !== 'apply'
        ? fn
        : async (input, deps) => {
            inApply = true;
            opened = 0;
            try {
              return await fn(input, deps);
            } finally {
              inApply = false;
            }
          };
    const connect: LocalRunOptions['connect'] = (ref, options) =>
      inApply && ++opened > 1 ? Promise.reject(new TransientDatabaseError('sorry, too many clients already (test)')) : openConnection(ref, options);
    const warned: string[] = [];
    const log = { info: () => undefined, warn: (message: string) => void warned.push(message), error: () => undefined };

    const summary = await runLocal(config, { wrapTask, connect, log });

    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    expect(opened).toBe(4);
    expect(warned).toEqual(Array(3).fill('could not open a connection for work ahead of the apply; the apply will do it'));
    expect(await rowHashes(target, 'public.ahead_dst')).toEqual(await rowHashes(source, 'public.ahead_src'));
    const indexes = await target.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'ahead_dst' ORDER BY 1`);
    expect(indexes.rows.map((r) => r.indexname)).toEqual(['ahead_dst_pkey', 'ahead_dst_v']);
    const statistics = await target.query(`SELECT count(*)::int AS n FROM pg_stats WHERE schemaname = 'public' AND tablename = 'ahead_dst'`);
    expect(statistics.rows[0].n).toBe(2);
  });

  it('quotes every identifier: a hostile table name neither breaks the run nor drops the canary', async () => {
    const weird = 'Weird "T"; DROP TABLE canary;--';
    for (const db of [source, target]) {
      await db.query(`CREATE TABLE public.canary (x int); CREATE SCHEMA "My Schema"`);
    }
    await source.query(`CREATE TABLE "My Schema"."Weird ""T""; DROP TABLE canary;--" ("Order" bigint PRIMARY KEY, "updatedAt" timestamptz, "select" text)`);
    await source.query(`INSERT INTO "My Schema"."Weird ""T""; DROP TABLE canary;--" SELECT g, now(), 'v' || g FROM generate_series(1, 3000) g`);
    await source.query(`ANALYZE "My Schema"."Weird ""T""; DROP TABLE canary;--"`);
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'weird',
      source: { table: { schema: 'My Schema', name: weird } },
      options: { chunk_rows: 1000, custom_predicate: '"Order" > 0' },
      sink: { table: { schema: 'My Schema', name: weird }, staging: { schema: 'Staging "S"' } },
    });
    const summary = await runLocal(config);
    expect(summary.error).toBeUndefined();
    expect(summary.rowsInserted).toBe(3000);
    expect(summary.chunks).toBeGreaterThan(1);
    const copied = await target.query(`SELECT count(*)::int AS n, count(DISTINCT "Order")::int AS d FROM "My Schema"."Weird ""T""; DROP TABLE canary;--"`);
    expect(copied.rows[0]).toEqual({ n: 3000, d: 3000 });
    for (const db of [source, target]) {
      const canary = await db.query(`SELECT to_regclass('public.canary') IS NOT NULL AS present`);
      expect(canary.rows[0].present).toBe(true);
    }
  });

  it("exchange stages the target's NOT NULLs, keeps their names, and fails a NULL in the chunk that carries it, target untouched", async () => {
    const pg18 = Number((await target.query(`SELECT current_setting('server_version_num')::int AS v`)).rows[0].v) >= 180000;
    await source.query(`CREATE TABLE public.nn_src (id bigint PRIMARY KEY, a text, b int, c int);
      INSERT INTO public.nn_src SELECT g, 'a' || g, g, CASE WHEN g % 2 = 0 THEN g END FROM generate_series(1, 3000) g; ANALYZE public.nn_src`);
    await target.query(`CREATE TABLE public.nn_t (id bigint PRIMARY KEY, a text CONSTRAINT a_required NOT NULL, b int NOT NULL, c int);
      INSERT INTO public.nn_t VALUES (-1, 'old', 0, NULL);
      ${pg18 ? 'ALTER TABLE public.nn_t ADD CONSTRAINT c_local NOT NULL c NO INHERIT NOT VALID;' : ''}`);
    const constraints = async (): Promise<unknown[]> =>
      (
        await target.query(`SELECT conname, pg_get_constraintdef(oid) AS def, a.attname, a.attnotnull
      FROM pg_attribute a LEFT JOIN pg_constraint k ON k.conrelid = a.attrelid AND k.conkey = ARRAY[a.attnum] AND k.contype IN ('n', 'p')
      WHERE a.attrelid = 'public.nn_t'::regclass AND a.attnum > 0 ORDER BY a.attnum, conname`)
      ).rows;
    const before = await constraints();
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'nn_exchange',
      source: { table: { schema: 'public', name: 'nn_src' } },
      options: { chunk_rows: 1000, max_parallel_chunks: 1 },
      sink: { table: { schema: 'public', name: 'nn_t' } },
      strategy: { overwrite_type: 'exchange' },
    });
    let stagedNotNull: unknown[] = [];
    const wrapTask: LocalRunOptions['wrapTask'] = (key, fn) =>
      key !== 'extractChunk'
        ? fn
        : async (input, deps) => {
            stagedNotNull = (
              await target.query(`SELECT a.attname FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'pgferry_staging' AND t.relname LIKE 'nn_t\\_%' AND t.relname NOT LIKE '%\\_done' AND a.attnum > 0 AND a.attnotnull ORDER BY a.attnum`)
            ).rows.map((r) => r.attname);
            return fn(input, deps);
          };

    const summary = await runLocal(config, { wrapTask });
    expect(summary.error).toBeUndefined();
    expect(summary.rowsInserted).toBe(3000);
    expect(summary.chunks).toBeGreaterThan(1);
    // NO INHERIT NOT VALID (PostgreSQL 18) is not staged: the exchange adds it as it was, without checking the rows
    // (half of the source's c values are NULL).
    expect(stagedNotNull).toEqual(['id', 'a', 'b']);
    expect(await constraints()).toEqual(before);
    expect(await rowHashes(target, 'public.nn_t')).toEqual(await rowHashes(source, 'public.nn_src'));

    await source.query(`UPDATE public.nn_src SET a = NULL WHERE id = 2500`);
    const loaded = await rowHashes(target, 'public.nn_t');
    const failed = await runLocal(config, { wrapTask, retryIntervalMs: 1 });
    expect(failed.status).toBe('failed');
    expect(failed.error?.message).toMatch(/chunk \d: the source returned NULL in a column that is NOT NULL in the target.*null value in column "a"/s);
    expect(await rowHashes(target, 'public.nn_t')).toEqual(loaded);
    expect(await constraints()).toEqual(before);
    const staged = await target.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'pgferry_staging' AND tablename LIKE 'nn\\_t%'`);
    expect(staged.rows[0].n).toBe(0);
  });

  it('retries a chunk that failed after its COPY committed and leaves no duplicate', async () => {
    await source.query(
      `CREATE TABLE public.orders (id bigint PRIMARY KEY, v text); INSERT INTO public.orders SELECT g, 'row ' || g FROM generate_series(1, 5000) g; ANALYZE public.orders`,
    );
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'retry',
      options: { chunk_rows: 1000 },
      sink: { table: { schema: 'public', name: 'orders_retry' } },
    });
    const failed = new Set<number>();
    const summary = await runLocal(config, {
      retryIntervalMs: 1,
      wrapTask: (key, fn) =>
        key !== 'extractChunk'
          ? fn
          : async (input, deps) => {
              const chunk = (input as ChunkInput).chunk;
              const output = await fn(input, deps);
              if (chunk === 1 && !failed.has(chunk)) {
                failed.add(chunk);
                throw new TransientDatabaseError('injected: connection lost after the chunk committed');
              }
              return output;
            },
    });
    expect(failed.has(1)).toBe(true);
    expect(summary.status).toBe('succeeded');
    expect(summary.rowsExtracted).toBe(5000);
    const loaded = await target.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM public.orders_retry`);
    expect(loaded.rows[0]).toEqual({ n: 5000, d: 5000 });
  });

  it('a failure in apply leaves target rows, cursor and staging schema as they were, and records the failed run', async () => {
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'apply_fails',
      options: { chunk_rows: 2000 },
      sink: { table: { schema: 'public', name: 'orders_guarded' } },
    });
    const first = await runLocal(config);
    expect(first.status).toBe('succeeded');
    // A constraint the next load violates makes Apply fail after its TRUNCATE ran inside the transaction.
    await target.query(`ALTER TABLE public.orders_guarded ADD CONSTRAINT v_short CHECK (length(v) < 12)`);
    await source.query(`INSERT INTO public.orders VALUES (100001, 'a value that is far too long')`);
    const before = await rowHashes(target, 'public.orders_guarded');
    const stateBefore = await target.query(`SELECT cursor, last_success_run_id FROM pgferry.pipeline_state WHERE pipeline = 'apply_fails'`);
    const stagingBefore = await target.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'pgferry_staging' ORDER BY 1`);

    const summary = await runLocal(config);
    expect(summary.status).toBe('failed');
    expect(summary.error?.name).toBe('DatabaseError');
    expect(summary.error?.message).toContain('23514');
    expect(await rowHashes(target, 'public.orders_guarded')).toEqual(before);
    const stateAfter = await target.query(`SELECT cursor, last_success_run_id, lease_run_id FROM pgferry.pipeline_state WHERE pipeline = 'apply_fails'`);
    expect(stateAfter.rows[0]).toEqual({ ...stateBefore.rows[0], lease_run_id: null });
    const stagingAfter = await target.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'pgferry_staging' ORDER BY 1`);
    expect(stagingAfter.rows).toEqual(stagingBefore.rows);
    const run = await target.query(`SELECT status, error FROM pgferry.runs WHERE run_id = $1`, [summary.runId]);
    expect(run.rows[0].status).toBe('failed');
    expect(run.rows[0].error.name).toBe('DatabaseError');
    await source.query(`DELETE FROM public.orders WHERE id = 100001`);
  });

  it('extracts a query source, chunked on a chunk_column of the query, with a custom_predicate', async () => {
    await source.query(
      `CREATE TABLE public.customers (id bigint PRIMARY KEY, segment text); INSERT INTO public.customers SELECT g, 'seg' || (g % 3) FROM generate_series(1, 100) g`,
    );
    const query = 'SELECT o.id AS order_id, o.v, c.segment FROM public.orders o JOIN public.customers c ON c.id = o.id % 100 + 1';
    const chunked = pipelineConfig(sourceUrl, targetUrl, {
      name: 'query_chunked',
      source: { table: undefined, query },
      options: { chunk_column: 'order_id', chunk_rows: 1500, custom_predicate: "segment <> 'seg0'" },
      sink: { table: { schema: 'public', name: 'orders_by_query' } },
    });
    const summary = await runLocal(chunked);
    expect(summary.error).toBeUndefined();
    expect(summary.chunks).toBeGreaterThan(1);
    const expected = await source.query(`SELECT count(*)::int AS n FROM (${query}) q WHERE segment <> 'seg0'`);
    expect(summary.rowsInserted).toBe(expected.rows[0].n);
    await source.query(`CREATE VIEW public.expected_by_query AS SELECT * FROM (${query}) q WHERE segment <> 'seg0'`);
    expect(await rowHashes(target, 'public.orders_by_query')).toEqual(await rowHashes(source, 'public.expected_by_query'));

    const single = pipelineConfig(sourceUrl, targetUrl, {
      name: 'query_single',
      source: { table: undefined, query },
      options: { chunk_rows: 1500 },
      sink: { table: { schema: 'public', name: 'orders_by_query_single' } },
    });
    const one = await runLocal(single);
    expect(one.status).toBe('succeeded');
    expect(one.chunks).toBe(1);
    expect(one.rowsInserted).toBe(5000);
  });

  it('a second run while one holds the lease is skipped and changes nothing', async () => {
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'overlap',
      options: { chunk_rows: 1000 },
      sink: { table: { schema: 'public', name: 'orders_overlap' } },
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inChunk = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const slow = runLocal(config, {
      runId: 'slow-run',
      wrapTask: (key, fn) =>
        key !== 'extractChunk'
          ? fn
          : async (input, deps) => {
              entered();
              await gate;
              return fn(input, deps);
            },
    });
    await inChunk;
    const runsBefore = await target.query(`SELECT run_id, status FROM pgferry.runs WHERE pipeline = 'overlap' ORDER BY run_id`);
    const second = await runLocal(config, { runId: 'second-run' });
    expect(second.status).toBe('skipped');
    expect(second.error?.name).toBe('LeaseHeldError');
    expect(second.error?.message).toContain('slow-run');
    const runsDuring = await target.query(`SELECT run_id, status FROM pgferry.runs WHERE pipeline = 'overlap' ORDER BY run_id`);
    expect(runsDuring.rows).toEqual(runsBefore.rows);
    expect((await target.query(`SELECT to_regclass('public.orders_overlap') IS NULL AS absent`)).rows[0].absent).toBe(true);
    release();
    const first = await slow;
    expect(first.status).toBe('succeeded');
    expect(first.rowsInserted).toBe(5000);
  });
});

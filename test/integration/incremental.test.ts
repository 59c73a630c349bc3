import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { runLocal } from '../../lib/local/runner.ts';
import type { RunSummary } from '../../lib/state/types.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { rowHashes } from '../helpers/compare.ts';

const EVENTS_DDL = `CREATE TABLE public.events (id bigint PRIMARY KEY, k integer, v text, updated_at timestamptz(6))`;

describe('Feature: incremental loading', () => {
  let server: TestPostgres;
  let sourceUrl: string;
  let targetUrl: string;
  let source: pg.Client;
  let target: pg.Client;
  let counter = 0;

  beforeAll(async () => {
    server = await startTestPostgres();
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(async () => {
    // Every scenario gets fresh source and target databases.
    counter += 1;
    sourceUrl = await server.createDatabase(`src${counter}`);
    targetUrl = await server.createDatabase(`dst${counter}`);
    source = await server.client(sourceUrl);
    target = await server.client(targetUrl);
    await source.query(EVENTS_DDL);
    await source.query(
      `INSERT INTO public.events SELECT g, g % 10, 'v' || g, timestamptz '2026-06-03 12:00:00+00' + g * interval '1 second' + interval '0.000123 second' FROM generate_series(1, 200) g`,
    );
  });

  function config(
    strategy: Record<string, unknown>,
    options: Record<string, unknown> = { incremental_strategy: 'column', incremental_column: 'updated_at' },
    extra: { source?: Record<string, unknown> } = {},
  ) {
    return pipelineConfig(sourceUrl, targetUrl, {
      name: 'events',
      source: { table: { schema: 'public', name: 'events' }, ...extra.source },
      options: { chunk_rows: 50, ...options },
      sink: { table: { schema: 'public', name: 'events' } },
      strategy,
    });
  }

  async function ok(summary: Promise<RunSummary>): Promise<RunSummary> {
    const s = await summary;
    expect(s.error).toBeUndefined();
    expect(s.status).toBe('succeeded');
    return s;
  }

  async function cursor(): Promise<unknown> {
    return (await target.query(`SELECT cursor FROM pgferry.pipeline_state WHERE pipeline = 'events'`)).rows[0]?.cursor;
  }

  it('column cursor: keeps microseconds, loads a tie at the stored cursor, and appends it once', async () => {
    const pipeline = config({ mode: 'incremental_append' });
    const first = await ok(runLocal(pipeline));
    expect(first.rowsInserted).toBe(200);
    expect(await cursor()).toMatchObject({ strategy: 'column', column: 'updated_at', value: '2026-06-03 12:03:20.000123+00' });
    expect(first.window).toMatchObject({ strategy: 'column', lower: null, upper: '2026-06-03 12:03:20.000123+00' });

    // A row committed after run 1 with exactly the stored cursor value.
    await source.query(`INSERT INTO public.events VALUES (1000, 1, 'tie', '2026-06-03 12:03:20.000123+00')`);
    const second = await ok(runLocal(pipeline));
    expect(second.window).toMatchObject({ lower: '2026-06-03 12:03:20.000123+00', upper: '2026-06-03 12:03:20.000123+00' });
    expect(second.rowsExtracted).toBe(2);
    expect(second.rowsInserted).toBe(1);
    expect(await rowHashes(target, 'public.events')).toEqual(await rowHashes(source, 'public.events'));

    // Nothing changed: the overlap is re-read and nothing is appended.
    const third = await ok(runLocal(pipeline));
    expect(third.rowsInserted).toBe(0);
    expect(await rowHashes(target, 'public.events')).toEqual(await rowHashes(source, 'public.events'));
  });

  it('column cursor with lookback: a transaction opened before run 1 that commits an earlier updated_at after it is loaded by run 2', async () => {
    const pipeline = config(
      { mode: 'incremental_merge', unique_key: ['id'] },
      { incremental_strategy: 'column', incremental_column: 'updated_at', lookback: '10 minutes' },
    );
    const late = await server.client(sourceUrl);
    await late.query('BEGIN');
    await late.query(`INSERT INTO public.events VALUES (5000, 5, 'late', timestamptz '2026-06-03 12:03:19+00')`);
    await ok(runLocal(pipeline));
    await late.query('COMMIT');
    await source.query(`INSERT INTO public.events VALUES (5001, 5, 'later', timestamptz '2026-06-03 12:05:00+00')`);
    const second = await ok(runLocal(pipeline));
    expect(second.window?.lower).toBe('2026-06-03 11:53:20.000123+00');
    const loaded = await target.query(`SELECT id FROM public.events WHERE id >= 5000 ORDER BY id`);
    expect(loaded.rows.map((r) => Number(r.id))).toEqual([5000, 5001]);
    expect(await rowHashes(target, 'public.events')).toEqual(await rowHashes(source, 'public.events'));
  });

  it('xmin cursor: a transaction open during run 1 is loaded by run 2 with no lookback', async () => {
    const pipeline = config({ mode: 'incremental_merge', unique_key: ['id'] }, { incremental_strategy: 'xmin' });
    const late = await server.client(sourceUrl);
    await late.query('BEGIN');
    await late.query(`INSERT INTO public.events VALUES (5000, 5, 'late', timestamptz '2020-01-01 00:00:00+00')`);
    const first = await ok(runLocal(pipeline));
    expect(first.rowsInserted).toBe(200);
    expect(first.window).toMatchObject({ strategy: 'xmin', lower: null, full: true });
    await late.query('COMMIT');
    await source.query(`UPDATE public.events SET v = 'changed' WHERE id = 7`);
    const second = await ok(runLocal(pipeline));
    expect(second.window?.lower).toBe(first.window?.upper);
    expect(second.rowsExtracted).toBe(2);
    expect(await rowHashes(target, 'public.events')).toEqual(await rowHashes(source, 'public.events'));
    const third = await ok(runLocal(pipeline));
    expect(third.rowsExtracted).toBe(0);
  });

  it('duplicate keys: fail leaves target and cursor unchanged and names the key; keep_last keeps the newest row, the same on every rerun', async () => {
    const base = { mode: 'incremental_merge', unique_key: ['k'] };
    await source.query(`DELETE FROM public.events WHERE id > 3`);
    await source.query(`UPDATE public.events SET k = id`);
    await ok(runLocal(config({ ...base, duplicate_policy: 'fail' })));
    const before = await rowHashes(target, 'public.events');
    const cursorBefore = await cursor();
    await source.query(`INSERT INTO public.events VALUES (10, 2, 'dup older', '2026-06-03 13:00:00+00'), (11, 2, 'dup newer', '2026-06-03 13:00:01+00')`);
    const failed = await runLocal(config({ ...base, duplicate_policy: 'fail' }));
    expect(failed.status).toBe('failed');
    expect(failed.error?.name).toBe('DuplicateKeyError');
    expect(failed.error?.message).toContain('"2"');
    expect(await rowHashes(target, 'public.events')).toEqual(before);
    expect(await cursor()).toEqual(cursorBefore);

    const kept = await ok(runLocal(config({ ...base, duplicate_policy: 'keep_last' })));
    expect(kept.rowsExtracted).toBe(3);
    const survivor = await target.query(`SELECT id, v FROM public.events WHERE k = 2`);
    expect(survivor.rows).toEqual([{ id: '11', v: 'dup newer' }]);
    await ok(runLocal(config({ ...base, duplicate_policy: 'keep_last' }, { incremental_strategy: 'column', incremental_column: 'updated_at' })));
    expect((await target.query(`SELECT id FROM public.events WHERE k = 2`)).rows).toEqual([{ id: '11' }]);
  });

  it('keep_last breaks a tie on the cursor value by the latest xmin', async () => {
    await source.query(`DELETE FROM public.events`);
    await source.query(`INSERT INTO public.events VALUES (1, 7, 'first', '2026-06-03 12:00:00+00')`);
    await source.query(`INSERT INTO public.events VALUES (2, 7, 'second', '2026-06-03 12:00:00+00')`);
    await ok(runLocal(config({ mode: 'incremental_merge', unique_key: ['k'], duplicate_policy: 'keep_last' })));
    expect((await target.query(`SELECT v FROM public.events`)).rows).toEqual([{ v: 'second' }]);
  });

  describe('every strategy gives exactly the expected rows, and a rerun without changes changes nothing', () => {
    const change = async (db: pg.Client) => {
      await db.query(`UPDATE public.events SET v = v || ' updated', updated_at = updated_at + interval '1 hour' WHERE id % 20 = 0`);
      await db.query(
        `INSERT INTO public.events SELECT g, g % 10, 'new ' || g, timestamptz '2026-06-03 14:00:00+00' + g * interval '1 ms' FROM generate_series(201, 230) g`,
      );
    };
    const cases: { name: string; strategy: Record<string, unknown>; expected: string }[] = [
      { name: 'incremental_merge delete_insert', strategy: { mode: 'incremental_merge', unique_key: ['id'] }, expected: 'SELECT * FROM public.events' },
      {
        name: 'incremental_merge upsert',
        strategy: { mode: 'incremental_merge', unique_key: ['id'], merge_policy: 'upsert' },
        expected: 'SELECT * FROM public.events',
      },
      {
        name: 'incremental_merge shadow_swap',
        strategy: { mode: 'incremental_merge', unique_key: ['id'], merge_policy: 'shadow_swap' },
        expected: 'SELECT * FROM public.events',
      },
      {
        name: 'incremental_append only_new_rows',
        strategy: { mode: 'incremental_append', only_new_rows: true, unique_key: ['id'] },
        expected: `SELECT id, k, CASE WHEN id % 20 = 0 AND id <= 200 THEN left(v, -8) ELSE v END AS v, CASE WHEN id % 20 = 0 AND id <= 200 THEN updated_at - interval '1 hour' ELSE updated_at END AS updated_at FROM public.events`,
      },
      {
        name: 'incremental_append',
        strategy: { mode: 'incremental_append' },
        expected: `SELECT * FROM public.events UNION ALL SELECT id, k, left(v, -8), updated_at - interval '1 hour' FROM public.events WHERE id % 20 = 0 AND id <= 200`,
      },
      { name: 'full_refresh truncate_insert', strategy: { mode: 'full_refresh' }, expected: 'SELECT * FROM public.events' },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const options = c.strategy.mode === 'full_refresh' ? {} : undefined;
        const pipeline = config(c.strategy, options);
        await ok(runLocal(pipeline));
        await change(source);
        await ok(runLocal(pipeline));
        await source.query(`CREATE VIEW public.expected AS ${c.expected}`);
        const after = await rowHashes(target, 'public.events');
        expect(after).toEqual(await rowHashes(source, 'public.expected'));
        await ok(runLocal(pipeline));
        expect(await rowHashes(target, 'public.events')).toEqual(after);
      });
    }

    it('replace: deletes the slice named by its predicate inside the load transaction, so an empty extract empties it', async () => {
      await target.query(`CREATE TABLE public.events (id bigint, k integer, v text, updated_at timestamptz(6))`);
      await target.query(`INSERT INTO public.events VALUES (900, 1, 'stale slice row', now()), (901, 2, 'other slice', now())`);
      const pipeline = pipelineConfig(sourceUrl, targetUrl, {
        name: 'events',
        source: { table: { schema: 'public', name: 'events' } },
        options: { custom_predicate: 'k = 1' },
        strategy: { mode: 'replace', custom_predicate: 'k = 1' },
        sink: { table: { schema: 'public', name: 'events' } },
      });
      const first = await ok(runLocal(pipeline));
      expect(first.rowsDeleted).toBe(1);
      expect(first.rowsInserted).toBe(20);
      await source.query(`DELETE FROM public.events WHERE k = 1`);
      const second = await ok(runLocal(pipeline));
      expect(second.rowsDeleted).toBe(20);
      expect(second.rowsInserted).toBe(0);
      expect((await target.query(`SELECT id FROM public.events ORDER BY id`)).rows).toEqual([{ id: '901' }]);
    });
  });

  for (const nativeMode of ['required', 'fallback'] as const) {
    it(`partition_replace (${nativeMode}): only the staged partitions change, and they equal the source's`, async () => {
      await target.query(`CREATE TABLE public.events (id bigint, k integer, v text, updated_at timestamptz(6)) PARTITION BY LIST (k)`);
      for (let k = 0; k < 10; k += 1) await target.query(`CREATE TABLE public.events_${k} PARTITION OF public.events FOR VALUES IN (${k})`);
      await target.query(`INSERT INTO public.events VALUES (-1, 3, 'untouched partition', now()), (-2, 1, 'replaced partition', now())`);
      const pipeline = pipelineConfig(sourceUrl, targetUrl, {
        name: 'events',
        source: { table: { schema: 'public', name: 'events' } },
        options: { custom_predicate: 'k IN (1, 2)' },
        sink: { table: { schema: 'public', name: 'events' } },
        strategy: { mode: 'partition_replace', partition: { column: 'k', native_mode: nativeMode } },
      });
      const first = await ok(runLocal(pipeline));
      expect(first.rowsInserted).toBe(40);
      await source.query(`UPDATE public.events SET v = 'changed' WHERE k = 1 AND id < 100; DELETE FROM public.events WHERE k = 2 AND id > 100`);
      await ok(runLocal(pipeline));
      await source.query(`CREATE VIEW public.expected AS SELECT * FROM public.events WHERE k IN (1, 2)`);
      await target.query(`CREATE VIEW public.loaded AS SELECT * FROM public.events WHERE k IN (1, 2)`);
      expect(await rowHashes(target, 'public.loaded')).toEqual(await rowHashes(source, 'public.expected'));
      expect((await target.query(`SELECT id, v FROM public.events WHERE k = 3`)).rows).toEqual([{ id: '-1', v: 'untouched partition' }]);
      const after = await rowHashes(target, 'public.events');
      await ok(runLocal(pipeline));
      expect(await rowHashes(target, 'public.events')).toEqual(after);
    });
  }

  it('a crash after the strategy SQL and before commit changes nothing; the rerun loads exactly once (append)', async () => {
    const pipeline = config({ mode: 'incremental_append' });
    await ok(runLocal(pipeline));
    await source.query(`INSERT INTO public.events VALUES (300, 3, 'x', '2026-06-03 15:00:00+00'), (301, 3, 'y', '2026-06-03 15:00:00+00')`);
    const before = await rowHashes(target, 'public.events');
    const cursorBefore = await cursor();
    const crashed = await runLocal(pipeline, {
      hooks: {
        beforeApplyCommit: async () => {
          throw new Error('injected crash before commit');
        },
      },
    });
    expect(crashed.status).toBe('failed');
    expect(await rowHashes(target, 'public.events')).toEqual(before);
    expect(await cursor()).toEqual(cursorBefore);
    const rerun = await ok(runLocal(pipeline));
    expect(rerun.rowsInserted).toBe(2);
    expect(await rowHashes(target, 'public.events')).toEqual(await rowHashes(source, 'public.events'));
  });

  it('null_cursor: fail refuses, exclude skips, include loads NULL-cursor rows on every run (merge keeps them once)', async () => {
    await source.query(`INSERT INTO public.events VALUES (400, 4, 'no cursor', NULL)`);
    const failed = await runLocal(config({ mode: 'incremental_merge', unique_key: ['id'] }));
    expect(failed.status).toBe('failed');
    expect(failed.error?.name).toBe('NullCursorError');
    const excluded = await ok(
      runLocal(
        config({ mode: 'incremental_merge', unique_key: ['id'] }, { incremental_strategy: 'column', incremental_column: 'updated_at', null_cursor: 'exclude' }),
      ),
    );
    expect(excluded.rowsExtracted).toBe(200);
    const include = config(
      { mode: 'incremental_merge', unique_key: ['id'] },
      { incremental_strategy: 'column', incremental_column: 'updated_at', null_cursor: 'include' },
    );
    const included = await ok(runLocal(include));
    expect(included.rowsExtracted).toBe(2);
    await ok(runLocal(include));
    expect((await target.query(`SELECT count(*)::int AS n FROM public.events WHERE id = 400`)).rows[0].n).toBe(1);
  });

  it('a query source: the window wraps the query, with custom_predicate; --full-refresh ignores the cursor once', async () => {
    const pipeline = pipelineConfig(sourceUrl, targetUrl, {
      name: 'events',
      source: { table: undefined, query: 'SELECT id, v, updated_at FROM public.events WHERE k <> 0' },
      options: { incremental_strategy: 'column', incremental_column: 'updated_at', custom_predicate: 'id > 10', chunk_column: 'id', chunk_rows: 40 },
      sink: { table: { schema: 'public', name: 'events_q' } },
      strategy: { mode: 'incremental_merge', unique_key: ['id'] },
    });
    const first = await ok(runLocal(pipeline));
    expect(first.rowsInserted).toBe(171);
    expect(first.chunks).toBeGreaterThan(1);
    await source.query(`UPDATE public.events SET v = 'moved', updated_at = updated_at + interval '1 day' WHERE id IN (11, 12)`);
    const second = await ok(runLocal(pipeline));
    // The two moved rows, plus the row at the old maximum: the lower bound is inclusive, so ties are never lost.
    expect(second.rowsExtracted).toBe(3);
    const full = await ok(runLocal(pipeline, { fullRefresh: true }));
    expect(full.rowsExtracted).toBe(171);
    expect(full.window?.lower).toBeNull();
    await source.query(`CREATE VIEW public.expected_q AS SELECT id, v, updated_at FROM public.events WHERE k <> 0 AND id > 10`);
    expect(await rowHashes(target, 'public.events_q')).toEqual(await rowHashes(source, 'public.expected_q'));
  });

  it('source deletes: full_refresh drops them; merge and append keep the deleted rows (documented)', async () => {
    const merge = config({ mode: 'incremental_merge', unique_key: ['id'] });
    await ok(runLocal(merge));
    await source.query(`DELETE FROM public.events WHERE id = 5`);
    await ok(runLocal(merge));
    expect((await target.query(`SELECT count(*)::int AS n FROM public.events WHERE id = 5`)).rows[0].n).toBe(1);
    const refresh = pipelineConfig(sourceUrl, targetUrl, {
      name: 'events_full',
      source: { table: { schema: 'public', name: 'events' } },
      sink: { table: { schema: 'public', name: 'events_full' } },
    });
    await ok(runLocal(refresh));
    expect((await target.query(`SELECT count(*)::int AS n FROM public.events_full WHERE id = 5`)).rows[0].n).toBe(0);
  });
});

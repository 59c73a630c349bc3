import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { runLocal } from '../../lib/local/runner.ts';
import { planInPlaceMerge } from '../../lib/sink/in-place-merge.ts';
import { deleteInsert } from '../../lib/sink/strategies/delete-insert.ts';
import type { RunPlan } from '../../lib/state/types.ts';
import { replaceInPlaceSql } from '../../lib/sql/merge.ts';
import { recorder } from '../helpers/log.ts';
import { startSourceAndTarget, type TestPostgres } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { rowHashes } from '../helpers/compare.ts';

const SOURCE_DDL = `
CREATE TABLE public.events (id bigint PRIMARY KEY, k integer, v text, updated_at timestamptz(6));
INSERT INTO public.events SELECT g, g % 10, 'v' || g, timestamptz '2026-06-03 12:00:00+00' + g * interval '1 second' FROM generate_series(1, 500) g`;

/** A target with columns the source does not have: a default, a sequence default and a generated column. */
const targetDdl = (name: string): string => `
CREATE SEQUENCE public.${name}_seq;
CREATE TABLE public.${name} (
  id bigint PRIMARY KEY, k integer, v text, updated_at timestamptz(6),
  origin text DEFAULT 'fresh', seq bigint DEFAULT nextval('public.${name}_seq'), k2 integer GENERATED ALWAYS AS (k * 2) STORED)`;

describe('Feature: delete_insert replaces rows in place where nothing can tell the difference', () => {
  let server: TestPostgres;
  let sourceUrl: string;
  let targetUrl: string;
  let source: pg.Client;
  let target: pg.Client;
  const role = `pgferry_no_update_${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    ({ server, sourceUrl, targetUrl, source, target } = await startSourceAndTarget());
    await source.query(SOURCE_DDL);
    await target.query(`CREATE FUNCTION public.nothing() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'`);
  });

  afterAll(async () => {
    await target?.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await target?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await server?.stop();
  });

  const pipeline = (name: string) =>
    pipelineConfig(sourceUrl, targetUrl, {
      name,
      source: { table: { schema: 'public', name: 'events' } },
      // One chunk: staging fills in source order, so both targets draw sequence values in the same order.
      options: { incremental_strategy: 'column', incremental_column: 'updated_at', chunk_rows: 1000 },
      sink: { table: { schema: 'public', name } },
      strategy: { mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['id'] },
    });

  it('gives the same rows, defaults, sequence values and counts as DELETE + INSERT', async () => {
    await target.query(targetDdl('in_place'));
    await target.query(targetDdl('deleted'));
    // A statement trigger that never fires (TRUNCATE) is enough to keep the second target on DELETE + INSERT.
    await target.query(`CREATE TRIGGER keep_delete_insert AFTER TRUNCATE ON public.deleted FOR EACH STATEMENT EXECUTE FUNCTION public.nothing()`);
    const logs = { in_place: recorder(), deleted: recorder() };
    for (const name of ['in_place', 'deleted'] as const) {
      const first = await runLocal(pipeline(name), { log: logs[name] });
      expect(first.error).toBeUndefined();
      expect(first).toMatchObject({ status: 'succeeded', rowsInserted: 500, rowsDeleted: 0 });
      // What a DBA or an earlier load left in the columns pgferry does not stage: replaced rows lose it.
      await target.query(`UPDATE public.${name} SET origin = 'stale'`);
    }
    await source.query(`UPDATE public.events SET v = v || '!', k = k + 1, updated_at = updated_at + interval '1 day' WHERE id % 5 = 0`);
    await source.query(
      `INSERT INTO public.events SELECT g, g % 10, 'new ' || g, timestamptz '2026-06-05 00:00:00+00' + g * interval '1 ms' FROM generate_series(501, 520) g`,
    );

    const summaries = [];
    for (const name of ['in_place', 'deleted'] as const) summaries.push(await runLocal(pipeline(name), { log: logs[name] }));

    for (const s of summaries) {
      expect(s.error).toBeUndefined();
      expect(s).toMatchObject({ status: 'succeeded', rowsExtracted: 120, rowsInserted: 120, rowsDeleted: 100 });
    }
    expect(logs.in_place.lines.join('\n')).toMatch(/replacing rows in place/);
    expect(logs.deleted.lines.join('\n')).toMatch(/deleting and inserting .*triggers/);
    // `pgferry plan` prints the statement the run would take.
    const columns = [
      { name: 'id', type: 'bigint' },
      { name: 'k', type: 'integer' },
      { name: 'v', type: 'text' },
      { name: 'updated_at', type: 'timestamp(6) with time zone' },
    ];
    const describe = async (name: string) =>
      deleteInsert.describe?.(target, pipeline(name), { columns, targetExists: true } as unknown as RunPlan, { schema: 'pgferry_staging', name: 'x' });
    expect((await describe('in_place'))?.join('\n')).toMatch(
      /^INSERT INTO "public"\."in_place" .* ON CONFLICT \("id"\) DO UPDATE SET .*"origin" = EXCLUDED\."origin", "seq" = EXCLUDED\."seq"$/s,
    );
    // Without track_counts the statement counts what it replaced itself.
    await target.query('SET track_counts = off');
    try {
      expect((await describe('in_place'))?.join('\n')).toMatch(
        /^WITH merged AS \(INSERT INTO "public"\."in_place" .* ON CONFLICT \("id"\) DO UPDATE SET .* RETURNING/s,
      );
    } finally {
      await target.query('RESET track_counts');
    }
    expect((await describe('deleted'))?.[0]).toMatch(/^DELETE FROM "public"\."deleted"/);
    const rows = await rowHashes(target, 'public.in_place');
    expect(rows).toEqual(await rowHashes(target, 'public.deleted'));
    const check = await target.query(`SELECT count(*) FILTER (WHERE origin = 'fresh')::int AS fresh, count(*) FILTER (WHERE k2 <> k * 2)::int AS wrong,
      count(DISTINCT seq)::int AS seqs, max(seq)::int AS max_seq FROM public.in_place`);
    // 100 replaced + 20 new rows took their defaults; one sequence value per staged row, as INSERT draws them.
    expect(check.rows[0]).toEqual({ fresh: 120, wrong: 0, seqs: 520, max_seq: 620 });
    // Same values as the source in every staged column.
    const staged = await target.query(`SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM (SELECT id, k, v, updated_at FROM public.in_place) t`);
    const expected = await source.query(`SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM (SELECT id, k, v, updated_at FROM public.events) t`);
    expect(staged.rows[0].h).toBe(expected.rows[0].h);
  });

  it('counts replaced and new rows from the table statistics of its transaction, and from RETURNING without track_counts', async () => {
    const name = 'counts';
    await target.query(targetDdl(name));
    const first = await runLocal(pipeline(name), { log: recorder() });
    expect(first.error).toBeUndefined();
    const total = Number((await source.query('SELECT count(*) AS n FROM public.events')).rows[0].n);
    expect(first).toMatchObject({ status: 'succeeded', rowsInserted: total, rowsDeleted: 0 });
    const database = (await target.query('SELECT current_database() AS d')).rows[0].d as string;
    let next = 1000;
    for (const trackCounts of ['on', 'off']) {
      await target.query(`ALTER DATABASE "${database}" SET track_counts = ${trackCounts}`);
      try {
        const cursor = (await source.query('SELECT max(updated_at) AS m FROM public.events')).rows[0].m as Date;
        const at = trackCounts === 'on' ? '2026-08-01 00:00:00+00' : '2026-09-01 00:00:00+00';
        await source.query(
          `UPDATE public.events SET v = v || '+', updated_at = timestamptz '${at}' + id * interval '1 ms' WHERE id % 7 = ${trackCounts === 'on' ? 1 : 2}`,
        );
        await source.query(
          `INSERT INTO public.events SELECT g, g % 10, 'counted ' || g, timestamptz '${at}' + g * interval '1 ms' FROM generate_series(${next}, ${next + 4}) g`,
        );
        next += 5;
        // The window starts at the stored cursor, inclusive: the changed rows, the 5 new ones and the row at the cursor.
        const window = Number((await source.query('SELECT count(*) AS n FROM public.events WHERE updated_at >= $1', [cursor])).rows[0].n);
        const log = recorder();
        const run = await runLocal(pipeline(name), { log });
        expect(run.error, `track_counts ${trackCounts}`).toBeUndefined();
        expect(run, `track_counts ${trackCounts}`).toMatchObject({ status: 'succeeded', rowsExtracted: window, rowsInserted: window, rowsDeleted: window - 5 });
        expect(log.lines.join('\n')).toMatch(/replacing rows in place/);
      } finally {
        await target.query(`ALTER DATABASE "${database}" RESET track_counts`);
      }
    }
    const hash = `SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM (SELECT id, k, v, updated_at FROM public.%s) t`;
    expect((await target.query(hash.replace('%s', name))).rows[0].h).toBe((await source.query(hash.replace('%s', 'events'))).rows[0].h);
  });

  it('counts replaced rows from RETURNING old (PostgreSQL 18) and from xmax (before it) alike', async () => {
    await target.query(`CREATE TABLE public.counted (id int PRIMARY KEY, v text);
      INSERT INTO public.counted SELECT g, 'old' FROM generate_series(1, 10) g;
      CREATE TABLE public.counted_stage (id int, v text);
      INSERT INTO public.counted_stage SELECT g, 'new' FROM generate_series(8, 14) g`);
    const version = Number((await target.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v);
    const variants = version >= 180000 ? [false, true] : [false];
    for (const returningOld of variants) {
      const sql = replaceInPlaceSql(
        { schema: 'public', name: 'counted' },
        { schema: 'public', name: 'counted_stage' },
        [
          { name: 'id', type: 'integer' },
          { name: 'v', type: 'text' },
        ],
        ['id'],
        [],
        { returningOld },
      );
      await target.query('BEGIN');
      try {
        const result = await target.query(sql);
        expect(result.rows[0], `returningOld ${returningOld}`).toEqual({ rows: '7', replaced: '3' });
        const after = await target.query(`SELECT count(*) FILTER (WHERE v = 'new')::int AS new, count(*)::int AS n FROM public.counted`);
        expect(after.rows[0]).toEqual({ new: 7, n: 14 });
      } finally {
        await target.query('ROLLBACK');
      }
    }
  });

  it('keeps DELETE + INSERT, and says why, wherever the two could be told apart', async () => {
    const staged = [
      { name: 'id', type: 'bigint' },
      { name: 'v', type: 'text' },
    ];
    await target.query(`
      CREATE TABLE public.t_ok (id bigint PRIMARY KEY, v text, extra text DEFAULT 'x');
      CREATE TABLE public.t_pair (a int, b int, v text, PRIMARY KEY (b, a));
      CREATE TABLE public.t_part (id bigint PRIMARY KEY, v text) PARTITION BY RANGE (id);
      CREATE TABLE public.t_parent (id bigint PRIMARY KEY, v text); CREATE TABLE public.t_child () INHERITS (public.t_parent);
      CREATE TABLE public.t_trigger (id bigint PRIMARY KEY, v text);
      CREATE TRIGGER t_trigger_row BEFORE INSERT ON public.t_trigger FOR EACH ROW EXECUTE FUNCTION public.nothing();
      CREATE TABLE public.t_referenced (id bigint PRIMARY KEY, v text); CREATE TABLE public.t_referrer (rid bigint REFERENCES public.t_referenced);
      CREATE TABLE public.t_rule (id bigint PRIMARY KEY, v text); CREATE RULE t_rule_notify AS ON INSERT TO public.t_rule DO ALSO NOTIFY pgferry_test;
      CREATE TABLE public.t_rls (id bigint PRIMARY KEY, v text); ALTER TABLE public.t_rls ENABLE ROW LEVEL SECURITY;
      CREATE TABLE public.t_published (id bigint PRIMARY KEY, v text);
      CREATE TABLE public.t_deferrable (id bigint PRIMARY KEY DEFERRABLE, v text);
      CREATE TABLE public.t_partial (id bigint NOT NULL, v text); CREATE UNIQUE INDEX ON public.t_partial (id) WHERE id > 0;
      CREATE TABLE public.t_expression (id bigint NOT NULL, v text); CREATE UNIQUE INDEX ON public.t_expression ((id + 0));
      CREATE TABLE public.t_opclass (id text NOT NULL, v text); CREATE UNIQUE INDEX ON public.t_opclass (id text_pattern_ops);
      CREATE TABLE public.t_other_unique (id bigint PRIMARY KEY, v text UNIQUE);
      CREATE TABLE public.t_exclusion (id bigint PRIMARY KEY, v text, EXCLUDE USING btree (v WITH =));
      CREATE TABLE public.t_nullable (id bigint, v text); CREATE UNIQUE INDEX ON public.t_nullable (id);
      CREATE TABLE public.t_identity (id bigint PRIMARY KEY, v text, n bigint GENERATED ALWAYS AS IDENTITY);
      CREATE TABLE public.t_no_index (id bigint NOT NULL, v text);
      CREATE VIEW public.t_view AS SELECT * FROM public.t_ok`);
    await target.query(`SET client_min_messages = error; CREATE PUBLICATION pgferry_test_pub FOR TABLE public.t_published; RESET client_min_messages`);
    const plan = async (name: string, keys: readonly string[] = ['id'], columns = staged, db: pg.Client = target) =>
      planInPlaceMerge(db, { schema: 'public', name }, keys, columns);

    expect(await plan('t_ok')).toEqual({ merge: { unstaged: ['extra'], returningOld: expect.any(Boolean), countFromStatistics: true } });
    expect(
      (
        await plan(
          't_pair',
          ['a', 'b'],
          [
            { name: 'a', type: 'integer' },
            { name: 'b', type: 'integer' },
            { name: 'v', type: 'text' },
          ],
        )
      ).merge,
    ).toBeDefined();
    const blocked: [string, RegExp, string[]?, { name: string; type: string }[]?][] = [
      ['t_part', /partitioned/],
      ['t_parent', /inheritance children/],
      ['t_trigger', /triggers/],
      ['t_referenced', /triggers \(or foreign keys\)/],
      ['t_rule', /rules/],
      ['t_rls', /row-level security/],
      ['t_published', /publication/],
      // A deferrable key is checked again at commit by an internal trigger.
      ['t_deferrable', /triggers/],
      ['t_partial', /no immediate, non-partial unique index/],
      ['t_expression', /no immediate, non-partial unique index/],
      [
        't_opclass',
        /no immediate, non-partial unique index/,
        ['id'],
        [
          { name: 'id', type: 'text' },
          { name: 'v', type: 'text' },
        ],
      ],
      ['t_other_unique', /other unique indexes/],
      ['t_exclusion', /exclusion constraints/],
      ['t_nullable', /may be NULL/],
      ['t_identity', /GENERATED ALWAYS AS IDENTITY/],
      ['t_no_index', /no immediate, non-partial unique index/],
      [
        't_ok',
        /staged as another type/,
        ['id'],
        [
          { name: 'id', type: 'integer' },
          { name: 'v', type: 'text' },
        ],
      ],
      ['t_missing', /does not exist/],
      ['t_view', /not a plain table \(relkind v\)/],
    ];
    const icu = await target.query(`SELECT count(*)::int AS n FROM pg_collation WHERE collprovider = 'i'`);
    if (icu.rows[0].n > 0) {
      await target.query(`CREATE COLLATION public.nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
        CREATE TABLE public.t_nocase (id text COLLATE public.nocase PRIMARY KEY, v text)`);
      blocked.push([
        't_nocase',
        /nondeterministic collation/,
        ['id'],
        [
          { name: 'id', type: 'text' },
          { name: 'v', type: 'text' },
        ],
      ]);
    }
    for (const [name, reason, keys, columns] of blocked) {
      const result = await plan(name, keys, columns);
      expect(result.merge, name).toBeUndefined();
      expect(result.blocker, name).toMatch(reason);
    }

    // A role that may DELETE and INSERT but not UPDATE.
    await target.query(`CREATE ROLE ${role} LOGIN PASSWORD 'loader'; GRANT SELECT, INSERT, DELETE ON public.t_ok TO ${role}`);
    const url = new URL(targetUrl);
    url.username = role;
    url.password = 'loader';
    const limited = new pg.Client({ connectionString: url.toString() });
    await limited.connect();
    try {
      expect((await plan('t_ok', ['id'], staged, limited)).blocker).toMatch(/may not UPDATE/);
    } finally {
      await limited.end();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { runLocal } from '../../lib/local/runner.ts';
import { describeEmptyTarget, emptyTargetHint } from '../../lib/sink/empty-target.ts';
import { recorder } from '../helpers/log.ts';
import { startSourceAndTarget, type TestPostgres } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { rowHashes } from '../helpers/compare.ts';

const SOURCE_DDL = `
CREATE TABLE public.events (id bigint PRIMARY KEY, code text, qty int, updated_at timestamptz(6));
INSERT INTO public.events SELECT g, 'c' || g, g % 7, timestamptz '2026-06-03 12:00:00+00' + g * interval '1 second' FROM generate_series(1, 3000) g`;

/** A target as a user creates it before the first run: keys, a plain index, a comment on one. */
const targetDdl = (name: string): string => `
CREATE TABLE public.${name} (id bigint NOT NULL, code text NOT NULL, qty int, updated_at timestamptz(6));
ALTER TABLE public.${name} ADD CONSTRAINT ${name}_pkey PRIMARY KEY (id);
ALTER TABLE public.${name} ADD CONSTRAINT ${name}_code_key UNIQUE (code);
CREATE INDEX ${name}_updated_at ON public.${name} (updated_at);
COMMENT ON INDEX public.${name}_updated_at IS 'the cursor'`;

/** The target's indexes, OIDs aside. */
const INDEXES = `SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS def, obj_description(i.indexrelid, 'pg_class') AS comment, k.conname AS constraint
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
WHERE i.indrelid = $1::regclass ORDER BY 1`;

const EMPTY_LOAD = /the target holds no rows/;

describe('Feature: an incremental run into an empty target inserts and builds the indexes after the load', () => {
  let server: TestPostgres;
  let sourceUrl: string;
  let targetUrl: string;
  let source: pg.Client;
  let target: pg.Client;
  const role = `pgferry_not_owner_${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    ({ server, sourceUrl, targetUrl, source, target } = await startSourceAndTarget());
    await source.query(SOURCE_DDL);
  });

  afterAll(async () => {
    await target?.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await target?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await server?.stop();
  });

  const pipeline = (name: string, strategy: Record<string, unknown>) =>
    pipelineConfig(sourceUrl, targetUrl, {
      name,
      source: { table: { schema: 'public', name: 'events' } },
      options: { incremental_strategy: 'column', incremental_column: 'updated_at', chunk_rows: 1000 },
      sink: { table: { schema: 'public', name } },
      strategy,
    });

  const oids = async (table: string): Promise<Record<string, string>> => {
    const result = await target.query(`SELECT indexrelid::regclass::text AS name, indexrelid::int8::text AS oid FROM pg_index WHERE indrelid = $1::regclass`, [
      table,
    ]);
    return Object.fromEntries(result.rows.map((r: { name: string; oid: string }) => [r.name, r.oid]));
  };

  it.each([
    ['ev_delete_insert', { mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['id'] }],
    ['ev_upsert', { mode: 'incremental_merge', merge_policy: 'upsert', unique_key: ['id'] }],
    ['ev_append', { mode: 'incremental_append' }],
  ])('%s: the first run rebuilds the indexes as they were; the next one merges into them', async (name, strategy) => {
    await target.query(targetDdl(name));
    const indexes = (await target.query(INDEXES, [`public.${name}`])).rows;
    const before = await oids(`public.${name}`);
    const log = recorder();

    const first = await runLocal(pipeline(name, strategy), { log });

    expect(first.error).toBeUndefined();
    expect(first).toMatchObject({ status: 'succeeded', rowsExtracted: 3000, rowsInserted: 3000, rowsDeleted: 0 });
    expect(log.lines.join('\n')).toMatch(EMPTY_LOAD);
    expect(await rowHashes(target, `public.${name}`)).toEqual(await rowHashes(source, 'public.events'));
    expect((await target.query(INDEXES, [`public.${name}`])).rows).toEqual(indexes);
    const rebuilt = await oids(`public.${name}`);
    for (const [index, oid] of Object.entries(before)) expect(rebuilt[index], `${index} was rebuilt`).not.toBe(oid);

    await source.query(
      `INSERT INTO public.events SELECT g, 'c' || g, 0, timestamptz '2026-06-05 00:00:00+00' + g * interval '1 ms' FROM generate_series(3001, 3010) g`,
    );
    try {
      const nextLog = recorder();
      const next = await runLocal(pipeline(name, strategy), { log: nextLog });

      expect(next.error).toBeUndefined();
      // The window's inclusive lower bound reads the last loaded row again: merged again, not appended twice.
      expect(next).toMatchObject({ status: 'succeeded', rowsExtracted: 11, rowsInserted: name === 'ev_append' ? 10 : 11 });
      expect(nextLog.lines.join('\n')).not.toMatch(EMPTY_LOAD);
      expect(await oids(`public.${name}`)).toEqual(rebuilt);
      expect(await rowHashes(target, `public.${name}`)).toEqual(await rowHashes(source, 'public.events'));
    } finally {
      await source.query(`DELETE FROM public.events WHERE id > 3000`);
    }
  });

  it('replace keeps its own statements on an empty target, so a predicate the target cannot run fails the first run', async () => {
    await target.query(targetDdl('ev_replace'));
    const log = recorder();
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'ev_replace',
      source: { table: { schema: 'public', name: 'events' } },
      sink: { table: { schema: 'public', name: 'ev_replace' } },
      strategy: { mode: 'replace', custom_predicate: 'no_such_column = 1' },
    });

    const summary = await runLocal(config, { log });

    expect(summary.status).toBe('failed');
    expect(summary.error?.message).toMatch(/no_such_column/);
    expect(log.lines.join('\n')).not.toMatch(EMPTY_LOAD);
    expect((await target.query('SELECT count(*)::int AS n FROM public.ev_replace')).rows[0].n).toBe(0);
  });

  it('a duplicate that fails a rebuilt unique index rolls everything back: the target stays empty, with its indexes', async () => {
    await target.query(targetDdl('ev_dup'));
    await source.query(`CREATE TABLE public.events_dup AS SELECT * FROM public.events; UPDATE public.events_dup SET code = 'c1' WHERE id = 2`);
    const indexes = (await target.query(INDEXES, ['public.ev_dup'])).rows;
    const before = await oids('public.ev_dup');
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'ev_dup',
      source: { table: { schema: 'public', name: 'events_dup' } },
      options: { incremental_strategy: 'column', incremental_column: 'updated_at' },
      sink: { table: { schema: 'public', name: 'ev_dup' } },
      strategy: { mode: 'incremental_merge', merge_policy: 'upsert', unique_key: ['id'] },
    });

    const summary = await runLocal(config);

    expect(summary.status).toBe('failed');
    expect(summary.error?.message).toMatch(/ev_dup_code_key/);
    expect((await target.query('SELECT count(*)::int AS n FROM public.ev_dup')).rows[0].n).toBe(0);
    expect((await target.query(INDEXES, ['public.ev_dup'])).rows).toEqual(indexes);
    expect(await oids('public.ev_dup')).toEqual(before);
  });

  it('a row committed while the run waits for its lock is merged, not loaded over', async () => {
    await target.query(targetDdl('ev_race'));
    const config = pipeline('ev_race', { mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['id'] });
    const writer = new pg.Client({ connectionString: targetUrl });
    await writer.connect();
    try {
      // An open transaction has inserted a row with a staged key: the run sees an empty table, then waits for the lock.
      await writer.query(`BEGIN; INSERT INTO public.ev_race (id, code, qty) VALUES (5, 'from the writer', -1)`);
      const log = recorder();
      const running = runLocal(config, { log });
      await waitForLockWait(target, 'ev_race');
      await writer.query('COMMIT');

      const summary = await running;

      expect(summary.error).toBeUndefined();
      expect(summary).toMatchObject({ status: 'succeeded', rowsInserted: 3000, rowsDeleted: 1 });
      expect(log.lines.join('\n')).not.toMatch(EMPTY_LOAD);
      expect(await rowHashes(target, 'public.ev_race')).toEqual(await rowHashes(source, 'public.events'));
    } finally {
      await writer.end();
    }
  });

  it('keeps the strategy statements for a target with triggers of its own, or one the role does not own; foreign keys are no bar', async () => {
    await target.query(`CREATE FUNCTION public.nothing() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'`);
    await target.query(targetDdl('ev_trigger'));
    await target.query(`CREATE TRIGGER watch AFTER TRUNCATE ON public.ev_trigger FOR EACH STATEMENT EXECUTE FUNCTION public.nothing()`);
    await target.query(`CREATE TABLE public.ev_parent (qty int PRIMARY KEY); INSERT INTO public.ev_parent SELECT g FROM generate_series(0, 6) g`);
    await target.query(targetDdl('ev_fk'));
    await target.query(`ALTER TABLE public.ev_fk ADD FOREIGN KEY (qty) REFERENCES public.ev_parent (qty)`);
    await target.query(targetDdl('ev_other'));
    await target.query(`CREATE ROLE ${role} LOGIN PASSWORD 'loader'; GRANT SELECT, INSERT, UPDATE, DELETE ON public.ev_other TO ${role}`);
    const url = new URL(targetUrl);
    url.username = role;
    url.password = 'loader';
    const limited = new pg.Client({ connectionString: url.toString() });
    await limited.connect();
    try {
      expect(await emptyTargetHint(target, { schema: 'public', name: 'ev_other' })).toBe(true);
      expect(await emptyTargetHint(limited, { schema: 'public', name: 'ev_other' })).toBe(false);
    } finally {
      await limited.end();
    }
    expect(await emptyTargetHint(target, { schema: 'public', name: 'ev_trigger' })).toBe(false);
    // `pgferry plan` prints what the run would do.
    const staging = { schema: 'pgferry_staging', name: 'ev_other_x' };
    const columns = [
      { name: 'id', type: 'bigint' },
      { name: 'code', type: 'text' },
    ];
    const statements = (await describeEmptyTarget(target, { schema: 'public', name: 'ev_other' }, staging, columns)) ?? [];
    expect(statements.slice(1)).toEqual([
      'LOCK TABLE ONLY "public"."ev_other" IN ACCESS EXCLUSIVE MODE',
      'ALTER TABLE "public"."ev_other" DROP CONSTRAINT "ev_other_code_key", DROP CONSTRAINT "ev_other_pkey"',
      'DROP INDEX "public"."ev_other_updated_at"',
      'INSERT INTO "public"."ev_other" ("id", "code") SELECT "id", "code" FROM "pgferry_staging"."ev_other_x"',
      expect.stringMatching(/maintenance_work_mem/),
      'CREATE UNIQUE INDEX "ev_other_code_key" ON "public"."ev_other" USING btree (code)',
      'ALTER TABLE "public"."ev_other" ADD CONSTRAINT "ev_other_code_key" UNIQUE USING INDEX "ev_other_code_key"',
      'CREATE UNIQUE INDEX "ev_other_pkey" ON "public"."ev_other" USING btree (id)',
      'ALTER TABLE "public"."ev_other" ADD CONSTRAINT "ev_other_pkey" PRIMARY KEY USING INDEX "ev_other_pkey"',
      'CREATE INDEX "ev_other_updated_at" ON "public"."ev_other" USING btree (updated_at)',
      `COMMENT ON INDEX "public"."ev_other_updated_at" IS 'the cursor'`,
    ]);
    expect(await describeEmptyTarget(target, { schema: 'public', name: 'ev_trigger' }, staging, columns)).toBeUndefined();

    const logs = { ev_trigger: recorder(), ev_fk: recorder() };
    for (const name of ['ev_trigger', 'ev_fk'] as const) {
      const summary = await runLocal(pipeline(name, { mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['id'] }), { log: logs[name] });
      expect(summary.error).toBeUndefined();
      expect(await rowHashes(target, `public.${name}`)).toEqual(await rowHashes(source, 'public.events'));
    }
    expect(logs.ev_trigger.lines.join('\n')).not.toMatch(EMPTY_LOAD);
    expect(logs.ev_fk.lines.join('\n')).toMatch(EMPTY_LOAD);
    // The foreign key still holds after the load.
    await expect(target.query(`INSERT INTO public.ev_fk (id, code, qty) VALUES (-1, 'orphan', 99)`)).rejects.toMatchObject({ code: '23503' });
  });
});

/** Waits until a session waits for a lock on `table`. */
async function waitForLockWait(db: pg.Client, table: string): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    const result = await db.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = to_regclass($1)`, [`public.${table}`]);
    if (result.rows[0].n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no session waited for a lock on ${table}`);
}

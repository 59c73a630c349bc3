import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../lib/config/index.ts';
import { PartitionReplaceError, UnsafeTargetError } from '../../lib/errors.ts';
import { partitionReplace } from '../../lib/sink/strategies/partition-replace.ts';
import type { StrategyContext, StrategyResult } from '../../lib/sink/strategies/types.ts';
import { describeTable } from '../../lib/sink/target.ts';
import { qualified, type TableName } from '../../lib/sql/quote.ts';
import type { RunPlan } from '../../lib/state/types.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';

const suffix = randomBytes(3).toString('hex');
const role = (name: string): string => `${name}_${suffix}`;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

type Partition = { column: string; native_mode?: 'auto' | 'required' | 'fallback'; max_partitions_per_run?: number };

function config(target: TableName, partition: Partition): PipelineConfig {
  return pipelineConfig('postgres://localhost/source', 'postgres://localhost/target', {
    sink: { table: target },
    strategy: { mode: 'partition_replace', partition },
  });
}

/** A StrategyContext as the apply task builds it, for a staging table already holding the rows to load. */
async function context(db: pg.Client, target: TableName, staging: TableName, partition: Partition): Promise<StrategyContext> {
  const staged = (await describeTable(db, staging)) ?? [];
  const targetColumns = await describeTable(db, target);
  const plan: RunPlan = {
    columns: staged.map((c) => ({ name: c.name, type: c.type })),
    staging: { schema: staging.schema, name: staging.name, doneName: `${staging.name}_done` },
    targetExists: targetColumns !== undefined,
    window: { strategy: 'none', lower: null, upper: null, full: true, cursorAfter: null },
    ...(targetColumns ? { targetColumns } : {}),
  };
  const stagedRows = Number((await db.query(`SELECT count(*) AS n FROM ${qualified(staging)}`)).rows[0].n);
  return { db, config: config(target, partition), plan, staging, stagedRows, cursorBefore: null, log: quiet };
}

/** Runs the strategy in one transaction, as the apply task does. */
async function applyIn(ctx: StrategyContext): Promise<StrategyResult> {
  await ctx.db.query('BEGIN');
  try {
    const result = await partitionReplace.apply(ctx);
    await ctx.db.query('COMMIT');
    return result;
  } catch (error) {
    await ctx.db.query('ROLLBACK');
    throw error;
  }
}

/** Every row with the relation it lives in, sorted: equal snapshots mean the same rows in the same partitions. */
async function rows(db: pg.Client, table: string): Promise<string[]> {
  return (await db.query<{ r: string }>(`SELECT tableoid::regclass::text || ' ' || t::text AS r FROM ${table} AS t ORDER BY 1`)).rows.map((r) => r.r);
}

/** Identity (oid, file) of every leaf by name: a leaf that was not replaced keeps both. */
async function leafIdentity(db: pg.Client, root: string): Promise<Record<string, string>> {
  const result = await db.query<{ name: string; id: string }>(
    `SELECT c.oid::regclass::text AS name, c.oid || '/' || c.relfilenode AS id FROM pg_partition_tree($1::regclass) t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf`,
    [root],
  );
  return Object.fromEntries(result.rows.map((r) => [r.name, r.id]));
}

/** What a DBA sees of a leaf: indexes (and which partitioned index each is attached to), constraints, owner, grants, comment. */
async function leafShape(db: pg.Client, leaf: string): Promise<Record<string, unknown>> {
  const q = async (text: string): Promise<unknown[]> => (await db.query(text, [leaf])).rows;
  return {
    table: await q(`SELECT relname, pg_get_userbyid(relowner) AS owner, relacl::text AS acl, obj_description(oid, 'pg_class') AS comment, reloptions,
      pg_get_expr(relpartbound, oid) AS bound, relispartition FROM pg_class WHERE oid = $1::regclass`),
    indexes: await q(`SELECT ic.relname, regexp_replace(pg_get_indexdef(i.indexrelid), ' ON \\S+ ', ' ON <t> ') AS def, h.inhparent::regclass::text AS parent
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid LEFT JOIN pg_inherits h ON h.inhrelid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY 1`),
    constraints: await q(`SELECT conname, contype, pg_get_constraintdef(oid) AS def, conislocal, coninhcount, conparentid <> 0 AS inherited
      FROM pg_constraint WHERE conrelid = $1::regclass ORDER BY conname`),
  };
}

/** pgferry's temporary tables left behind in any schema. */
async function leftovers(db: pg.Client): Promise<string[]> {
  return (await db.query<{ t: string }>(`SELECT oid::regclass::text AS t FROM pg_class WHERE relname LIKE 'pgp\\_%' OR relname LIKE '%\\_pv'`)).rows.map(
    (r) => r.t,
  );
}

describe('Strategy: partitionReplace', () => {
  let server: TestPostgres;
  let url: string;
  let dbName: string;
  let db: pg.Client;

  beforeAll(async () => {
    server = await startTestPostgres();
    url = await server.createDatabase('partition');
    dbName = new URL(url).pathname.slice(1);
    db = await server.client(url);
    // The session pins of every pgferry connection.
    await db.query(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'`);
    await db.query(`CREATE ROLE ${role('owner')}; CREATE ROLE ${role('reader')}; CREATE SCHEMA pgferry_staging; CREATE TABLE public.canary (x int)`);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('replaces only the daily RANGE partitions holding staged dates, keeping their names, indexes, owner and grants, without an ATTACH scan', async () => {
    await db.query(`
      CREATE TABLE public.events (id bigint NOT NULL, d date NOT NULL, v text, n int DEFAULT 1 CONSTRAINT n_positive CHECK (n > 0), PRIMARY KEY (id, d)) PARTITION BY RANGE (d);
      CREATE INDEX events_v ON public.events (v);
      CREATE TABLE public.events_0601 PARTITION OF public.events FOR VALUES FROM ('2026-06-01') TO ('2026-06-02');
      CREATE TABLE public.events_0602 PARTITION OF public.events FOR VALUES FROM ('2026-06-02') TO ('2026-06-03');
      CREATE TABLE public.events_0603 PARTITION OF public.events FOR VALUES FROM ('2026-06-03') TO ('2026-06-04') WITH (fillfactor = 80);
      CREATE INDEX events_0603_local ON public.events_0603 (n);
      ALTER INDEX public.events_0603_pkey SET (fillfactor = 60);
      ALTER TABLE public.events_0601 OWNER TO ${role('owner')};
      GRANT SELECT ON public.events_0601 TO ${role('reader')};
      COMMENT ON TABLE public.events_0603 IS 'third day';
      INSERT INTO public.events SELECT g, DATE '2026-06-01' + (g % 3), 'old ' || g FROM generate_series(1, 300) g;
      CREATE TABLE pgferry_staging.events_run (id bigint, d date, v text, n int);
      INSERT INTO pgferry_staging.events_run SELECT g, DATE '2026-06-01', 'new ' || g, 2 FROM generate_series(1000, 1049) g;
      INSERT INTO pgferry_staging.events_run SELECT g, DATE '2026-06-03', 'new ' || g, 3 FROM generate_series(2000, 2009) g;
    `);
    const target = { schema: 'public', name: 'events' };
    const identityBefore = await leafIdentity(db, 'public.events');
    const untouchedBefore = await rows(db, 'public.events_0602');
    const shapesBefore = { d1: await leafShape(db, 'public.events_0601'), d3: await leafShape(db, 'public.events_0603') };
    const notices: string[] = [];
    const onNotice = (n: { message?: string }): void => {
      notices.push(n.message ?? '');
    };
    db.on('notice', onNotice);
    await db.query('SET client_min_messages = debug1');

    const result = await applyIn(await context(db, target, { schema: 'pgferry_staging', name: 'events_run' }, { column: 'd', native_mode: 'required' }));

    await db.query('RESET client_min_messages');
    db.off('notice', onNotice);
    expect(result).toEqual({ rowsInserted: 60, rowsDeleted: 200 });
    // Both replacements were attached on the strength of their CHECK: from the first ATTACH on, no table was scanned
    // to verify a bound (the CHECKs themselves were verified on the empty tables, before the rows went in).
    const attach = notices.findIndex((m) => /^partition constraint for table "pgp_\w+" is implied by existing constraints$/.test(m));
    expect(notices.filter((m) => /^partition constraint for table "pgp_\w+" is implied by existing constraints$/.test(m))).toHaveLength(2);
    expect(notices.slice(attach).filter((m) => m.startsWith('verifying table'))).toEqual([]);
    expect(
      notices
        .filter((m) => m.startsWith('verifying table "pgp_'))
        .map((m) => notices.indexOf(m))
        .every((i) => i < attach),
    ).toBe(true);
    // The untouched partition is the same relation with the same rows; the replaced ones are new relations under the old names.
    const identityAfter = await leafIdentity(db, 'public.events');
    expect(Object.keys(identityAfter).sort()).toEqual(Object.keys(identityBefore).sort());
    expect(identityAfter['events_0602']).toBe(identityBefore['events_0602']);
    expect(identityAfter['events_0601']).not.toBe(identityBefore['events_0601']);
    expect(identityAfter['events_0603']).not.toBe(identityBefore['events_0603']);
    expect(await rows(db, 'public.events_0602')).toEqual(untouchedBefore);
    const rowText = async (sql: string): Promise<string[]> => (await db.query<{ r: string }>(sql)).rows.map((r) => r.r);
    expect(await rowText(`SELECT t::text AS r FROM public.events_0601 AS t ORDER BY 1`)).toEqual(
      await rowText(`SELECT t::text AS r FROM pgferry_staging.events_run AS t WHERE d = '2026-06-01' ORDER BY 1`),
    );
    expect((await db.query(`SELECT count(*)::int AS n, min(v) AS v FROM public.events_0603`)).rows[0]).toEqual({ n: 10, v: 'new 2000' });
    expect({ d1: await leafShape(db, 'public.events_0601'), d3: await leafShape(db, 'public.events_0603') }).toEqual(shapesBefore);
    expect(await leftovers(db)).toEqual([]);
    // The replaced leaf enforces the key and the parent's CHECK.
    await expect(db.query(`INSERT INTO public.events VALUES (1000, '2026-06-01', 'dup')`)).rejects.toMatchObject({ code: '23505' });
    await expect(db.query(`INSERT INTO public.events VALUES (5000, '2026-06-01', 'bad', 0)`)).rejects.toMatchObject({ code: '23514' });
  });

  it('replaces whole LIST partitions, the one that takes NULL included, under hostile names', async () => {
    await db.query(`
      CREATE SCHEMA "My Schema";
      CREATE TABLE "My Schema"."Weird ""T""; DROP TABLE canary;--" (id int, "Order" text, v text) PARTITION BY LIST ("Order");
      CREATE TABLE "My Schema"."part ab" PARTITION OF "My Schema"."Weird ""T""; DROP TABLE canary;--" FOR VALUES IN ('a', 'b');
      CREATE TABLE "My Schema"."part null" PARTITION OF "My Schema"."Weird ""T""; DROP TABLE canary;--" FOR VALUES IN (NULL, 'c');
      CREATE TABLE "My Schema"."part d" PARTITION OF "My Schema"."Weird ""T""; DROP TABLE canary;--" FOR VALUES IN ('d');
      CREATE INDEX "by Order" ON "My Schema"."Weird ""T""; DROP TABLE canary;--" ("Order");
      INSERT INTO "My Schema"."Weird ""T""; DROP TABLE canary;--" VALUES (1, 'a', 'old'), (2, 'b', 'old'), (3, NULL, 'old'), (4, 'c', 'old'), (5, 'd', 'old');
      CREATE TABLE pgferry_staging."Weird run" (id int, "Order" text, v text);
      INSERT INTO pgferry_staging."Weird run" VALUES (10, 'a', 'new'), (11, NULL, 'new');
    `);
    const target = { schema: 'My Schema', name: 'Weird "T"; DROP TABLE canary;--' };
    const untouched = await rows(db, '"My Schema"."part d"');

    const result = await applyIn(await context(db, target, { schema: 'pgferry_staging', name: 'Weird run' }, { column: 'Order', native_mode: 'auto' }));

    // A partition is replaced whole: 'b' and 'c' shared partitions with staged values, so they are gone.
    expect(result).toEqual({ rowsInserted: 2, rowsDeleted: 4 });
    expect(await rows(db, qualified(target))).toEqual([
      '"My Schema"."part ab" (10,a,new)',
      '"My Schema"."part d" (5,d,old)',
      '"My Schema"."part null" (11,,new)',
    ]);
    expect(await rows(db, '"My Schema"."part d"')).toEqual(untouched);
    expect((await db.query(`SELECT to_regclass('public.canary') IS NOT NULL AS ok`)).rows[0].ok).toBe(true);
    const indexes = await db.query(`SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid = '"My Schema"."part ab"'::regclass`);
    expect(indexes.rows).toEqual([{ i: '"My Schema"."part ab_Order_idx"' }]);
  });

  it('native_mode required: a staged value with no partition fails before any change', async () => {
    await db.query(`
      CREATE TABLE public.gaps (id int, d date) PARTITION BY RANGE (d);
      CREATE TABLE public.gaps_1 PARTITION OF public.gaps FOR VALUES FROM ('2026-06-01') TO ('2026-06-02');
      CREATE TABLE public.gaps_3 PARTITION OF public.gaps FOR VALUES FROM ('2026-06-03') TO ('2026-06-04');
      INSERT INTO public.gaps VALUES (1, '2026-06-01'), (3, '2026-06-03');
      CREATE TABLE pgferry_staging.gaps_run (id int, d date);
      INSERT INTO pgferry_staging.gaps_run VALUES (10, '2026-06-01'), (20, '2026-06-02'), (21, '2026-06-02'), (30, NULL);
    `);
    const target = { schema: 'public', name: 'gaps' };
    const before = await rows(db, 'public.gaps');
    const identity = await leafIdentity(db, 'public.gaps');

    const failure = applyIn(await context(db, target, { schema: 'pgferry_staging', name: 'gaps_run' }, { column: 'd', native_mode: 'required' }));

    await expect(failure).rejects.toThrow(PartitionReplaceError);
    await expect(failure).rejects.toMatchObject({ name: 'PartitionReplaceError', reason: 'no_partition', values: { count: 2, sample: [null, '2026-06-02'] } });
    await expect(failure).rejects.toThrow(/2 staged value\(s\) of "d" belong to no partition of "public"."gaps" \(e.g. NULL, "2026-06-02"\)/);
    expect(await rows(db, 'public.gaps')).toEqual(before);
    expect(await leafIdentity(db, 'public.gaps')).toEqual(identity);
    expect(await leftovers(db)).toEqual([]);
  });

  it('native_mode required: refuses at plan time and at apply a target that is not partitioned by the column', async () => {
    await db.query(`
      CREATE TABLE public.plain (id int, d date); INSERT INTO public.plain VALUES (1, '2026-06-01');
      CREATE TABLE public.by_id (id int, d date) PARTITION BY RANGE (id);
      CREATE TABLE pgferry_staging.plain_run (id int, d date); INSERT INTO pgferry_staging.plain_run VALUES (2, '2026-06-01');
    `);
    const staging = { schema: 'pgferry_staging', name: 'plain_run' };
    const plain = await context(db, { schema: 'public', name: 'plain' }, staging, { column: 'd', native_mode: 'required' });
    await expect(partitionReplace.check?.(db, plain.config, plain.plan)).rejects.toThrow(UnsafeTargetError);
    await expect(applyIn(plain)).rejects.toThrow(/native_mode: required cannot replace partitions of "public"."plain" by "d": it is not a partitioned table/);
    expect(await rows(db, 'public.plain')).toEqual(['plain (1,2026-06-01)']);
    const byId = await context(db, { schema: 'public', name: 'by_id' }, staging, { column: 'd', native_mode: 'required' });
    await expect(partitionReplace.check?.(db, byId.config, byId.plan)).rejects.toThrow(/public\.by_id is partitioned by "id", not by "d" alone/);
    // Under auto the same target is loaded by delete/insert.
    const auto = await context(db, { schema: 'public', name: 'plain' }, staging, { column: 'd', native_mode: 'auto' });
    await expect(partitionReplace.check?.(db, auto.config, auto.plan)).resolves.toBeUndefined();
    expect(await applyIn(auto)).toEqual({ rowsInserted: 1, rowsDeleted: 1 });
    expect(await rows(db, 'public.plain')).toEqual(['plain (2,2026-06-01)']);
  });

  it('timestamptz RANGE partitions created in Asia/Kathmandu: values a microsecond either side of a bound land in the right partition, whatever the session TimeZone', async () => {
    await db.query(`ALTER DATABASE "${dbName}" SET timezone = 'Asia/Kathmandu'`);
    // A DBA session in the database's default zone creates the daily partitions: local midnights (+05:45).
    const dba = await server.client(url);
    expect((await dba.query('SHOW timezone')).rows[0].TimeZone).toBe('Asia/Kathmandu');
    await dba.query(`
      CREATE TABLE public.ticks (id int, ts timestamptz NOT NULL, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
      CREATE TABLE public.ticks_0603 PARTITION OF public.ticks FOR VALUES FROM ('2026-06-03 00:00:00') TO ('2026-06-04 00:00:00');
      CREATE TABLE public.ticks_0604 PARTITION OF public.ticks FOR VALUES FROM ('2026-06-04 00:00:00') TO ('2026-06-05 00:00:00');
      CREATE TABLE public.ticks_0605 PARTITION OF public.ticks FOR VALUES FROM ('2026-06-05 00:00:00') TO ('2026-06-06 00:00:00');
      INSERT INTO public.ticks VALUES (1, '2026-06-03 12:00'), (2, '2026-06-04 12:00'), (3, '2026-06-05 00:00'), (4, '2026-06-05 23:59:59.999999');
      CREATE TABLE pgferry_staging.ticks_run (id int, ts timestamptz);
      INSERT INTO pgferry_staging.ticks_run VALUES
        (10, '2026-06-03 00:00:00+05:45'),
        (11, '2026-06-03 23:59:59.999999+05:45'),
        (12, '2026-06-04 00:00:00+05:45'),
        (13, '2026-06-04 23:59:59.999999+05:45');
    `);
    const target = { schema: 'public', name: 'ticks' };
    const untouched = await rows(db, 'public.ticks_0605');
    const identity = await leafIdentity(db, 'public.ticks');

    // The pgferry session runs in UTC, where the partitions' bounds fall at 18:15.
    const result = await applyIn(await context(db, target, { schema: 'pgferry_staging', name: 'ticks_run' }, { column: 'ts', native_mode: 'required' }));

    expect(result).toEqual({ rowsInserted: 4, rowsDeleted: 2 });
    const placed = await dba.query(`SELECT tableoid::regclass::text AS part, id, ts::text FROM public.ticks ORDER BY id`);
    expect(placed.rows).toEqual([
      { part: 'ticks_0605', id: 3, ts: '2026-06-05 00:00:00+05:45' },
      { part: 'ticks_0605', id: 4, ts: '2026-06-05 23:59:59.999999+05:45' },
      { part: 'ticks_0603', id: 10, ts: '2026-06-03 00:00:00+05:45' },
      { part: 'ticks_0603', id: 11, ts: '2026-06-03 23:59:59.999999+05:45' },
      { part: 'ticks_0604', id: 12, ts: '2026-06-04 00:00:00+05:45' },
      { part: 'ticks_0604', id: 13, ts: '2026-06-04 23:59:59.999999+05:45' },
    ]);
    expect(await rows(db, 'public.ticks_0605')).toEqual(untouched);
    expect((await leafIdentity(db, 'public.ticks'))['ticks_0605']).toBe(identity['ticks_0605']);
    const bounds = await dba.query(
      `SELECT relname, pg_get_expr(relpartbound, oid) AS bound FROM pg_class WHERE relname LIKE 'ticks\\_06%' AND relkind = 'r' ORDER BY 1`,
    );
    expect(bounds.rows).toEqual([
      { relname: 'ticks_0603', bound: `FOR VALUES FROM ('2026-06-03 00:00:00+05:45') TO ('2026-06-04 00:00:00+05:45')` },
      { relname: 'ticks_0604', bound: `FOR VALUES FROM ('2026-06-04 00:00:00+05:45') TO ('2026-06-05 00:00:00+05:45')` },
      { relname: 'ticks_0605', bound: `FOR VALUES FROM ('2026-06-05 00:00:00+05:45') TO ('2026-06-06 00:00:00+05:45')` },
    ]);

    // A session in yet another zone: a value one microsecond before the 06-05 bound replaces 06-04 only.
    await dba.query(`SET timezone = 'America/St_Johns'; CREATE TABLE pgferry_staging.ticks_run2 (id int, ts timestamptz);
      INSERT INTO pgferry_staging.ticks_run2 VALUES (20, '2026-06-04 18:14:59.999999+00')`);
    const again = await applyIn(await context(dba, target, { schema: 'pgferry_staging', name: 'ticks_run2' }, { column: 'ts', native_mode: 'required' }));
    expect(again).toEqual({ rowsInserted: 1, rowsDeleted: 2 });
    const after = await db.query(`SELECT tableoid::regclass::text AS part, id FROM public.ticks ORDER BY id`);
    expect(after.rows).toEqual([
      { part: 'ticks_0605', id: 3 },
      { part: 'ticks_0605', id: 4 },
      { part: 'ticks_0603', id: 10 },
      { part: 'ticks_0603', id: 11 },
      { part: 'ticks_0604', id: 20 },
    ]);
    await db.query(`ALTER DATABASE "${dbName}" RESET timezone`);
  });

  it('values in the DEFAULT partition: replaced value by value under auto (its other rows stay), refused under required', async () => {
    await db.query(`
      CREATE TABLE public.withdef (id int, d date) PARTITION BY RANGE (d);
      CREATE INDEX ON public.withdef (d);
      CREATE TABLE public.withdef_1 PARTITION OF public.withdef FOR VALUES FROM ('2026-06-01') TO ('2026-06-02');
      CREATE TABLE public.withdef_2 PARTITION OF public.withdef FOR VALUES FROM ('2026-06-02') TO ('2026-06-03');
      CREATE TABLE public.withdef_rest PARTITION OF public.withdef DEFAULT;
      INSERT INTO public.withdef VALUES (1, '2026-06-01'), (2, '2026-06-02'), (3, '2026-07-01'), (4, '2026-07-02'), (5, '2026-07-02'), (6, NULL);
      CREATE TABLE pgferry_staging.withdef_run (id int, d date);
      INSERT INTO pgferry_staging.withdef_run VALUES (10, '2026-06-01'), (40, '2026-07-02'), (60, NULL);
    `);
    const target = { schema: 'public', name: 'withdef' };
    const staging = { schema: 'pgferry_staging', name: 'withdef_run' };
    const before = await rows(db, 'public.withdef');

    await expect(applyIn(await context(db, target, staging, { column: 'd', native_mode: 'required' }))).rejects.toThrow(
      /staged values belong to the DEFAULT partition "public"."withdef_rest", which cannot be replaced whole/,
    );
    expect(await rows(db, 'public.withdef')).toEqual(before);

    const identity = await leafIdentity(db, 'public.withdef');
    const result = await applyIn(await context(db, target, staging, { column: 'd', native_mode: 'auto' }));
    expect(result).toEqual({ rowsInserted: 3, rowsDeleted: 4 });
    expect(await rows(db, 'public.withdef')).toEqual([
      'withdef_1 (10,2026-06-01)',
      'withdef_2 (2,2026-06-02)',
      'withdef_rest (3,2026-07-01)',
      'withdef_rest (40,2026-07-02)',
      'withdef_rest (60,)',
    ]);
    const after = await leafIdentity(db, 'public.withdef');
    expect(after['withdef_rest']).toBe(identity['withdef_rest']);
    expect(after['withdef_2']).toBe(identity['withdef_2']);
    expect(after['withdef_1']).not.toBe(identity['withdef_1']);
  });

  it('replaces leaves of a multi-level tree partitioned by the same column at every level', async () => {
    await db.query(`
      CREATE TABLE public.ml (id int, d date) PARTITION BY RANGE (d);
      CREATE TABLE public.ml_2026 PARTITION OF public.ml FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY RANGE (d);
      CREATE TABLE public.ml_2026_06 PARTITION OF public.ml_2026 FOR VALUES FROM ('2026-06-01') TO ('2026-07-01');
      CREATE TABLE public.ml_2026_07 PARTITION OF public.ml_2026 FOR VALUES FROM ('2026-07-01') TO ('2026-08-01');
      INSERT INTO public.ml VALUES (1, '2026-06-10'), (2, '2026-07-10');
      CREATE TABLE pgferry_staging.ml_run (id int, d date); INSERT INTO pgferry_staging.ml_run VALUES (3, '2026-06-11');
    `);
    const result = await applyIn(
      await context(db, { schema: 'public', name: 'ml' }, { schema: 'pgferry_staging', name: 'ml_run' }, { column: 'd', native_mode: 'required' }),
    );
    expect(result).toEqual({ rowsInserted: 1, rowsDeleted: 1 });
    expect(await rows(db, 'public.ml')).toEqual(['ml_2026_06 (3,2026-06-11)', 'ml_2026_07 (2,2026-07-10)']);
    const parent = await db.query(`SELECT inhparent::regclass::text AS p FROM pg_inherits WHERE inhrelid = 'public.ml_2026_06'::regclass`);
    expect(parent.rows).toEqual([{ p: 'ml_2026' }]);
  });

  it('routes staged values as the target column stores them, when staged and target types differ, and computes generated columns', async () => {
    await db.query(`
      CREATE TABLE public.typed (id bigint GENERATED ALWAYS AS IDENTITY, d date NOT NULL, day int GENERATED ALWAYS AS (extract(day FROM d)::int) STORED) PARTITION BY RANGE (d);
      CREATE TABLE public.typed_1 PARTITION OF public.typed FOR VALUES FROM ('2026-06-01') TO ('2026-06-02');
      CREATE TABLE public.typed_2 PARTITION OF public.typed FOR VALUES FROM ('2026-06-02') TO ('2026-06-03');
      INSERT INTO public.typed (d) VALUES ('2026-06-01'), ('2026-06-02');
      CREATE TABLE pgferry_staging.typed_run (id int, d timestamp, day int);
      INSERT INTO pgferry_staging.typed_run VALUES (7, '2026-06-01 23:59:59.999999', 99);
    `);
    const result = await applyIn(
      await context(db, { schema: 'public', name: 'typed' }, { schema: 'pgferry_staging', name: 'typed_run' }, { column: 'd', native_mode: 'required' }),
    );
    expect(result).toEqual({ rowsInserted: 1, rowsDeleted: 1 });
    expect(await rows(db, 'public.typed')).toEqual(['typed_1 (7,2026-06-01,1)', 'typed_2 (2,2026-06-02,2)']);
    // The parent's identity still serves the replaced partition.
    expect((await db.query(`INSERT INTO public.typed (d) VALUES ('2026-06-01') RETURNING id`)).rows).toEqual([{ id: '3' }]);
  });

  it('fallback on a plain table: deletes the staged values, NULL included, and inserts the staged rows', async () => {
    await db.query(`
      CREATE TABLE public.flat (id int, d date, v text);
      CREATE INDEX ON public.flat (d);
      INSERT INTO public.flat VALUES (1, '2026-06-01', 'old'), (2, '2026-06-01', 'old'), (3, '2026-06-02', 'keep'), (4, NULL, 'old'), (5, '2026-06-03', 'keep');
      CREATE TABLE pgferry_staging.flat_run (id int, d date, v text);
      INSERT INTO pgferry_staging.flat_run VALUES (10, '2026-06-01', 'new'), (11, NULL, 'new'), (12, '2026-06-04', 'new');
    `);
    const result = await applyIn(
      await context(db, { schema: 'public', name: 'flat' }, { schema: 'pgferry_staging', name: 'flat_run' }, { column: 'd', native_mode: 'fallback' }),
    );
    expect(result).toEqual({ rowsInserted: 3, rowsDeleted: 3 });
    expect((await db.query('SELECT id, d::text, v FROM public.flat ORDER BY id')).rows).toEqual([
      { id: 3, d: '2026-06-02', v: 'keep' },
      { id: 5, d: '2026-06-03', v: 'keep' },
      { id: 10, d: '2026-06-01', v: 'new' },
      { id: 11, d: null, v: 'new' },
      { id: 12, d: '2026-06-04', v: 'new' },
    ]);
  });

  it('max_partitions_per_run: more partitions than allowed fails before any change, naming the count and the limit', async () => {
    await db.query(`
      CREATE TABLE public.capped (id int, d date) PARTITION BY LIST (d);
      CREATE TABLE public.capped_1 PARTITION OF public.capped FOR VALUES IN ('2026-06-01');
      CREATE TABLE public.capped_2 PARTITION OF public.capped FOR VALUES IN ('2026-06-02');
      CREATE TABLE public.capped_3 PARTITION OF public.capped FOR VALUES IN ('2026-06-03');
      INSERT INTO public.capped VALUES (1, '2026-06-01'), (2, '2026-06-02'), (3, '2026-06-03');
      CREATE TABLE pgferry_staging.capped_run (id int, d date);
      INSERT INTO pgferry_staging.capped_run VALUES (10, '2026-06-01'), (20, '2026-06-02'), (30, '2026-06-03');
    `);
    const target = { schema: 'public', name: 'capped' };
    const staging = { schema: 'pgferry_staging', name: 'capped_run' };
    const before = await rows(db, 'public.capped');
    for (const mode of ['required', 'fallback'] as const) {
      const failure = applyIn(await context(db, target, staging, { column: 'd', native_mode: mode, max_partitions_per_run: 2 }));
      await expect(failure).rejects.toMatchObject({ name: 'PartitionReplaceError', reason: 'too_many_partitions', partitions: { count: 3, limit: 2 } });
      await expect(failure).rejects.toThrow(/would replace 3 (partitions|partition values), more than max_partitions_per_run \(2\)/);
      expect(await rows(db, 'public.capped')).toEqual(before);
    }
    expect(await applyIn(await context(db, target, staging, { column: 'd', native_mode: 'required', max_partitions_per_run: 3 }))).toEqual({
      rowsInserted: 3,
      rowsDeleted: 3,
    });
  });

  it('refuses natively replacing a partition a view depends on, before any change', async () => {
    await db.query(`
      CREATE TABLE public.viewed (id int, d date) PARTITION BY LIST (d);
      CREATE TABLE public.viewed_1 PARTITION OF public.viewed FOR VALUES IN ('2026-06-01');
      INSERT INTO public.viewed VALUES (1, '2026-06-01');
      CREATE VIEW public.viewed_1_ids AS SELECT id FROM public.viewed_1;
      CREATE TABLE pgferry_staging.viewed_run (id int, d date); INSERT INTO pgferry_staging.viewed_run VALUES (2, '2026-06-01');
    `);
    const failure = applyIn(
      await context(db, { schema: 'public', name: 'viewed' }, { schema: 'pgferry_staging', name: 'viewed_run' }, { column: 'd', native_mode: 'auto' }),
    );
    await expect(failure).rejects.toThrow(UnsafeTargetError);
    await expect(failure).rejects.toThrow(/viewed_1 has its own views public\.viewed_1_ids/);
    expect(await rows(db, 'public.viewed')).toEqual(['viewed_1 (1,2026-06-01)']);
  });

  it('describes the native statements with placeholders and the fallback statements as they will run', async () => {
    const native = await context(
      db,
      { schema: 'public', name: 'events' },
      { schema: 'pgferry_staging', name: 'events_run' },
      { column: 'd', native_mode: 'auto' },
    );
    const text = (await partitionReplace.describe?.(db, native.config, native.plan, native.staging))?.join('\n') ?? '';
    expect(text).toContain('ALTER TABLE "<parent schema>"."<parent>" ATTACH PARTITION');
    expect(text).toContain('CHECK (<partition constraint of the leaf>)');
    const fallback = await context(
      db,
      { schema: 'public', name: 'flat' },
      { schema: 'pgferry_staging', name: 'flat_run' },
      { column: 'd', native_mode: 'auto' },
    );
    expect(await partitionReplace.describe?.(db, fallback.config, fallback.plan, fallback.staging)).toEqual([
      'DELETE FROM "public"."flat" WHERE "d" IN (SELECT s."d" FROM "pgferry_staging"."flat_run" AS s)',
      '-- only when a NULL value is staged:\n',
      'DELETE FROM "public"."flat" WHERE "d" IS NULL',
      'INSERT INTO "public"."flat" ("id", "d", "v") SELECT "id", "d", "v" FROM "pgferry_staging"."flat_run"',
    ]);
  });
});

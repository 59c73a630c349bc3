import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsafeTargetError } from '../../lib/errors.ts';
import { shadowSwap } from '../../lib/sink/strategies/shadow-swap.ts';
import type { StrategyContext, StrategyResult } from '../../lib/sink/strategies/types.ts';
import { describeTable } from '../../lib/sink/target.ts';
import { qualified, type TableName } from '../../lib/sql/quote.ts';
import type { RunPlan } from '../../lib/state/types.ts';
import { rowHashes } from '../helpers/compare.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';

const suffix = randomBytes(3).toString('hex');
const role = (name: string): string => `${name}_${suffix}`;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A StrategyContext as the apply task builds it, for a staging table already holding the (unique-keyed) rows to merge. */
async function context(db: pg.Client, target: TableName, staging: TableName, uniqueKey: string[]): Promise<StrategyContext> {
  const staged = (await describeTable(db, staging)) ?? [];
  const targetColumns = await describeTable(db, target);
  const plan: RunPlan = {
    columns: staged.map((c) => ({ name: c.name, type: c.type })),
    staging: { schema: staging.schema, name: staging.name, doneName: `${staging.name}_done` },
    targetExists: targetColumns !== undefined,
    window: { strategy: 'none', lower: null, upper: null, full: true, cursorAfter: null },
    ...(targetColumns ? { targetColumns } : {}),
  };
  const config = pipelineConfig('postgres://localhost/source', 'postgres://localhost/target', {
    sink: { table: target },
    strategy: { mode: 'incremental_merge', unique_key: uniqueKey, merge_policy: 'shadow_swap' },
  });
  const stagedRows = Number((await db.query(`SELECT count(*) AS n FROM ${qualified(staging)}`)).rows[0].n);
  return { db, config, plan, staging, stagedRows, cursorBefore: null, log: quiet };
}

async function applyIn(ctx: StrategyContext): Promise<StrategyResult> {
  await ctx.db.query('BEGIN');
  try {
    const result = await shadowSwap.apply(ctx);
    await ctx.db.query('COMMIT');
    return result;
  } catch (error) {
    await ctx.db.query('ROLLBACK');
    throw error;
  }
}

/** What the swap must keep: owner, grants, comment, indexes and constraints, by name. */
async function shape(db: pg.Client, table: string): Promise<Record<string, unknown>> {
  const q = async (text: string): Promise<unknown[]> => (await db.query(text, [table])).rows;
  return {
    table: await q(
      `SELECT relname, pg_get_userbyid(relowner) AS owner, relacl::text AS acl, obj_description(oid, 'pg_class') AS comment FROM pg_class WHERE oid = $1::regclass`,
    ),
    indexes: await q(
      `SELECT ic.relname, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY 1`,
    ),
    constraints: await q(`SELECT conname, contype, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass ORDER BY 1`),
  };
}

describe('Strategy: shadowSwap', () => {
  let server: TestPostgres;
  let db: pg.Client;

  beforeAll(async () => {
    server = await startTestPostgres();
    db = await server.client(await server.createDatabase('shadow'));
    await db.query(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'`);
    await db.query(`CREATE ROLE ${role('owner')}; CREATE ROLE ${role('reader')}; CREATE SCHEMA app; CREATE SCHEMA pgferry_staging`);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('merges exactly: staged keys replace their rows, new keys are added, other rows are kept; indexes and grants survive', async () => {
    await db.query(`
      CREATE TABLE app.orders (id int PRIMARY KEY, status text NOT NULL, amount numeric(12,2), updated_at timestamptz(6));
      CREATE INDEX orders_status ON app.orders (status);
      COMMENT ON TABLE app.orders IS 'orders';
      ALTER TABLE app.orders OWNER TO ${role('owner')};
      GRANT SELECT ON app.orders TO ${role('reader')};
      INSERT INTO app.orders SELECT g, 'old', g, '2026-06-01 00:00:00.000001+00' FROM generate_series(1, 5) g;
      CREATE TABLE pgferry_staging.orders_run (id int, status text, amount numeric(12,2), updated_at timestamptz(6));
      INSERT INTO pgferry_staging.orders_run VALUES (2, 'new', 20.5, '2026-06-02 00:00:00.123456+00'), (4, 'new', 40, '2026-06-02 00:00:00+00'), (6, 'new', 60, '2026-06-02 00:00:00+00');
      CREATE TABLE app.expected AS
        SELECT * FROM app.orders WHERE id IN (1, 3, 5) UNION ALL SELECT * FROM pgferry_staging.orders_run;
    `);
    const before = await shape(db, 'app.orders');
    const target = { schema: 'app', name: 'orders' };
    const ctx = await context(db, target, { schema: 'pgferry_staging', name: 'orders_run' }, ['id']);
    await expect(shadowSwap.check?.(db, ctx.config, ctx.plan)).resolves.toBeUndefined();

    const result = await applyIn(ctx);

    expect(result).toEqual({ rowsInserted: 3, rowsDeleted: 2 });
    expect(await rowHashes(db, 'app.orders')).toEqual(await rowHashes(db, 'app.expected'));
    expect(await shape(db, 'app.orders')).toEqual(before);
    expect((await db.query(`SELECT to_regclass('pgferry_staging.orders_run_swap') AS t`)).rows[0].t).toBeNull();
    await expect(db.query(`INSERT INTO app.orders VALUES (6, 'dup', 0, now())`)).rejects.toMatchObject({ code: '23505' });
  });

  it('matches nullable keys NULL-safely: a staged NULL key replaces the target row with the same NULLs', async () => {
    await db.query(`
      CREATE TABLE app.pairs (a int, b int, v text);
      INSERT INTO app.pairs VALUES (1, NULL, 'old'), (1, 1, 'old'), (NULL, NULL, 'old'), (NULL, 2, 'old'), (2, 2, 'old');
      CREATE TABLE pgferry_staging.pairs_run (a int, b int, v text);
      INSERT INTO pgferry_staging.pairs_run VALUES (1, NULL, 'new'), (NULL, NULL, 'new'), (3, 3, 'new'), (2, 2, 'new');
    `);
    const result = await applyIn(await context(db, { schema: 'app', name: 'pairs' }, { schema: 'pgferry_staging', name: 'pairs_run' }, ['a', 'b']));
    expect(result).toEqual({ rowsInserted: 4, rowsDeleted: 3 });
    const merged = await db.query(`SELECT a, b, v FROM app.pairs ORDER BY a NULLS FIRST, b NULLS FIRST, v`);
    expect(merged.rows).toEqual([
      { a: null, b: null, v: 'new' },
      { a: null, b: 2, v: 'old' },
      { a: 1, b: null, v: 'new' },
      { a: 1, b: 1, v: 'old' },
      { a: 2, b: 2, v: 'new' },
      { a: 3, b: 3, v: 'new' },
    ]);
  });

  it('refuses a target a view depends on, at plan time and at apply, and leaves it untouched', async () => {
    await db.query(`
      CREATE TABLE app.viewed (id int PRIMARY KEY, v text); INSERT INTO app.viewed VALUES (1, 'a'), (2, 'b');
      CREATE VIEW app.viewed_b AS SELECT id FROM app.viewed WHERE v = 'b';
      CREATE TABLE pgferry_staging.viewed_run (id int, v text); INSERT INTO pgferry_staging.viewed_run VALUES (2, 'c');
    `);
    const before = await rowHashes(db, 'app.viewed');
    const ctx = await context(db, { schema: 'app', name: 'viewed' }, { schema: 'pgferry_staging', name: 'viewed_run' }, ['id']);
    await expect(shadowSwap.check?.(db, ctx.config, ctx.plan)).rejects.toThrow(UnsafeTargetError);
    const failure = applyIn(ctx);
    await expect(failure).rejects.toThrow(UnsafeTargetError);
    await expect(failure).rejects.toThrow(/^shadow_swap cannot replace "app"\."viewed": view "app"\."viewed_b" depends on it.*use merge_policy: delete_insert/);
    expect(await rowHashes(db, 'app.viewed')).toEqual(before);
    expect((await db.query(`SELECT to_regclass('pgferry_staging.viewed_run_swap') AS t`)).rows[0].t).toBeNull();
  });

  it('refuses a target that a foreign key of another table references, and leaves it untouched', async () => {
    await db.query(`
      CREATE TABLE app.customers (id int PRIMARY KEY, name text); INSERT INTO app.customers VALUES (1, 'a');
      CREATE TABLE app.invoices (customer int CONSTRAINT invoices_customer_fk REFERENCES app.customers (id)); INSERT INTO app.invoices VALUES (1);
      CREATE TABLE pgferry_staging.customers_run (id int, name text); INSERT INTO pgferry_staging.customers_run VALUES (1, 'b');
    `);
    const before = await rowHashes(db, 'app.customers');
    const ctx = await context(db, { schema: 'app', name: 'customers' }, { schema: 'pgferry_staging', name: 'customers_run' }, ['id']);
    await expect(shadowSwap.check?.(db, ctx.config, ctx.plan)).rejects.toThrow(/foreign key "invoices_customer_fk" of table "app"\."invoices" references it/);
    await expect(applyIn(ctx)).rejects.toThrow(UnsafeTargetError);
    expect(await rowHashes(db, 'app.customers')).toEqual(before);
  });

  it('refuses, before any change, staged columns that are not exactly the target columns', async () => {
    await db.query(`
      CREATE TABLE app.wide (id int PRIMARY KEY, v text, extra text DEFAULT 'x'); INSERT INTO app.wide VALUES (1, 'a');
      CREATE TABLE pgferry_staging.wide_run (id int, v text); INSERT INTO pgferry_staging.wide_run VALUES (1, 'b');
    `);
    const ctx = await context(db, { schema: 'app', name: 'wide' }, { schema: 'pgferry_staging', name: 'wide_run' }, ['id']);
    await expect(shadowSwap.check?.(db, ctx.config, ctx.plan)).rejects.toThrow(/the target's column\(s\) "extra" are not extracted/);
    await expect(applyIn(ctx)).rejects.toThrow(UnsafeTargetError);
    expect((await db.query('SELECT id, v, extra FROM app.wide')).rows).toEqual([{ id: 1, v: 'a', extra: 'x' }]);
  });

  it('a missing target becomes the staged rows', async () => {
    await db.query(`CREATE TABLE pgferry_staging.fresh_run (id int, v text); INSERT INTO pgferry_staging.fresh_run VALUES (1, 'a'), (2, 'b')`);
    const result = await applyIn(await context(db, { schema: 'app', name: 'fresh' }, { schema: 'pgferry_staging', name: 'fresh_run' }, ['id']));
    expect(result).toEqual({ rowsInserted: 2, rowsDeleted: 0 });
    expect((await db.query('SELECT id, v FROM app.fresh ORDER BY id')).rows).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
    ]);
    expect((await db.query(`SELECT relpersistence FROM pg_class WHERE oid = 'app.fresh'::regclass`)).rows[0].relpersistence).toBe('p');
  });

  it('describes the shadow build and the exchange', async () => {
    const ctx = await context(db, { schema: 'app', name: 'orders' }, { schema: 'pgferry_staging', name: 'orders_run' }, ['id']);
    const statements = (await shadowSwap.describe?.(db, ctx.config, ctx.plan, ctx.staging)) ?? [];
    expect(statements.slice(0, 4)).toEqual([
      'LOCK TABLE "app"."orders" IN SHARE MODE',
      'DROP TABLE IF EXISTS "pgferry_staging"."orders_run_swap"',
      'CREATE TABLE "pgferry_staging"."orders_run_swap" ("id" integer, "status" text, "amount" numeric(12,2), "updated_at" timestamp(6) with time zone)',
      'INSERT INTO "pgferry_staging"."orders_run_swap" ("id", "status", "amount", "updated_at") SELECT t."id", t."status", t."amount", t."updated_at" FROM "app"."orders" AS t\n' +
        'WHERE NOT EXISTS (SELECT 1 FROM "pgferry_staging"."orders_run" AS s WHERE t."id" = s."id")',
    ]);
    expect(statements).toContain('DROP TABLE "app"."orders"');
  });
});

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatements, stepText } from '../../lib/sink/strategies/statements.ts';
import { strategyFor } from '../../lib/sink/strategies/index.ts';
import type { StatementContext, Statements, StrategyContext } from '../../lib/sink/strategies/types.ts';
import { describeTable } from '../../lib/sink/target.ts';
import { KEY_ARRAY_LIMIT } from '../../lib/sql/merge.ts';
import type { RunPlan } from '../../lib/state/types.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const STAGING = { schema: 'pgferry_staging', name: 'orders_run' };

/** Passes every step through, writing down what it prints. */
async function* recording(statements: Statements, out: string[]): Statements {
  let next = await statements.next(undefined);
  while (!next.done) {
    out.push(...stepText(next.value));
    next = await statements.next(yield next.value);
  }
  return next.value;
}

describe('Feature: apply executes the statement plan that pgferry plan prints', () => {
  let server: TestPostgres;
  let db: pg.Client;

  beforeAll(async () => {
    server = await startTestPostgres();
    db = await server.client(await server.createDatabase('plan'));
    await db.query(`CREATE SCHEMA pgferry_staging;
      CREATE TABLE pgferry_staging.orders_run (id bigint, status text, updated_at timestamptz(6));
      CREATE FUNCTION public.nothing() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
      INSERT INTO pgferry_staging.orders_run SELECT g, 'new', timestamptz '2026-06-03 12:00:00+00' + g * interval '1 minute' FROM generate_series(1, 50) g`);
  });

  afterAll(async () => server?.stop());

  const cases: [string, Record<string, unknown>][] = [
    ['truncate_insert', { mode: 'full_refresh', overwrite_type: 'truncate_insert' }],
    ['append', { mode: 'incremental_append' }],
    ['only_new_rows', { mode: 'incremental_append', only_new_rows: true, unique_key: ['id'] }],
    ['delete_insert', { mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['id'] }],
    ['upsert', { mode: 'incremental_merge', merge_policy: 'upsert', unique_key: ['id'] }],
    ['shadow_swap', { mode: 'incremental_merge', merge_policy: 'shadow_swap', unique_key: ['id'] }],
    ['replace', { mode: 'replace', custom_predicate: 'id <= 60' }],
  ];

  it.each(cases)('%s: the statements run are the statements printed, for an existing target with rows', async (name, strategy) => {
    const table = { schema: 'public', name };
    // Rows keep every target off the empty-table load; plain append gets keys the staged rows do not hold.
    const first = name === 'append' ? 1000 : 40;
    await db.query(`CREATE TABLE public.${name} (id bigint PRIMARY KEY, status text, updated_at timestamptz(6)${name === 'shadow_swap' ? '' : ", note text DEFAULT 'x'"});
      CREATE INDEX ON public.${name} (updated_at);
      INSERT INTO public.${name} (id, status) SELECT g, 'old' FROM generate_series(${first}, ${first + 20}) g`);
    // A trigger keeps delete_insert on DELETE + INSERT rather than replacing in place.
    if (name === 'delete_insert') await db.query(`CREATE TRIGGER keep AFTER TRUNCATE ON public.${name} FOR EACH STATEMENT EXECUTE FUNCTION public.nothing()`);
    const config = pipelineConfig('postgres://localhost/s', 'postgres://localhost/t', {
      name: `plan_${name}`,
      sink: { table },
      options: { incremental_strategy: 'column', incremental_column: 'updated_at' },
      strategy,
    });
    const plan = {
      columns: ((await describeTable(db, STAGING)) ?? []).map((c) => ({ name: c.name, type: c.type })),
      staging: { ...STAGING, doneName: `${STAGING.name}_done` },
      targetExists: true,
      targetColumns: await describeTable(db, table),
      window: { strategy: 'column', column: 'updated_at', lower: null, upper: null, full: true, cursorAfter: null },
    } as unknown as RunPlan;
    const s = strategyFor(config);
    const printed = await s.describe(db, config, plan, STAGING);
    // Describing, staged rows are unknown and delete_insert prints its DELETE for a large staging table.
    const stagedRows = name === 'delete_insert' ? KEY_ARRAY_LIMIT + 1 : 50;
    const ctx: StrategyContext = { db, config, plan, staging: STAGING, stagedRows, cursorBefore: null, log: quiet, stagingAnalyzed: true };
    const ran: string[] = [];
    await db.query('BEGIN');
    const result = await runStatements(db, recording(s.statements({ ...ctx, describing: false } satisfies StatementContext), ran)).finally(() =>
      db.query('ROLLBACK'),
    );
    expect(printed.length).toBeGreaterThan(0);
    expect(ran).toEqual(printed);
    expect(result.rowsInserted).toBeGreaterThan(0);
  });

  it.each(cases.filter(([name]) => name !== 'shadow_swap'))('%s: and for a target the run creates', async (name, strategy) => {
    const table = { schema: 'public', name: `new_${name}` };
    const config = pipelineConfig('postgres://localhost/s', 'postgres://localhost/t', { name: `plan_new_${name}`, sink: { table }, strategy });
    const plan = {
      columns: ((await describeTable(db, STAGING)) ?? []).map((c) => ({ name: c.name, type: c.type })),
      staging: { ...STAGING, doneName: `${STAGING.name}_done` },
      targetExists: false,
      window: { strategy: 'none', lower: null, upper: null, full: true, cursorAfter: null },
    } as unknown as RunPlan;
    const s = strategyFor(config);
    const printed = await s.describe(db, config, plan, STAGING);
    const ran: string[] = [];
    await db.query('BEGIN');
    const ctx = { db, config, plan, staging: STAGING, stagedRows: 50, cursorBefore: null, log: quiet, describing: false };
    const result = await runStatements(db, recording(s.statements(ctx), ran)).finally(() => db.query('ROLLBACK'));
    expect(printed[0]).toMatch(/^CREATE TABLE "public"\."new_/);
    expect(ran).toEqual(printed);
    expect(result.rowsInserted).toBe(50);
  });
});

import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../../lib/config/index.ts';
import { bindBudget, budgetOf } from '../../lib/db/budget.ts';
import { runLocal } from '../../lib/local/runner.ts';
import { rowHashes } from '../helpers/compare.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';

const SOURCE_DDL = `
CREATE TABLE public.items (id bigint PRIMARY KEY, v text);
INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, 4000) g;`;

/** Statements of the test's own database still running something of a run (anything but this session). */
async function busy(db: import('pg').Client, like: string): Promise<number> {
  const r = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' AND query LIKE $1`,
    [like],
  );
  return r.rows[0]?.n ?? 0;
}

describe('Feature: a task runs within its time budget; what would outlive it is cancelled by the server', () => {
  const db = useSourceAndTarget(SOURCE_DDL);

  it('cancels an extraction that outlasts the budget: TaskBudgetExceededError, recorded, nothing left running, target and cursor unchanged', async () => {
    const config = pipelineConfig(db.sourceUrl, db.targetUrl, {
      name: 'budget_extract',
      // Two milliseconds a row: the COPY of 4,000 rows needs about 8 s.
      source: { table: undefined, query: `SELECT id, v, pg_sleep(0.002) IS NOT NULL AS slept FROM public.items` },
      sink: { table: { schema: 'public', name: 'budget_extract' } },
    });
    const started = Date.now();
    const summary = await runLocal(config, { taskBudgetSeconds: 2 });
    expect(summary.status).toBe('failed');
    expect(summary.error?.name).toBe('TaskBudgetExceededError');
    expect(summary.error?.message).toMatch(/COPY did not finish within the task's 2 s budget.*chunk_rows/);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(await busy(db.source, '%pg_sleep%')).toBe(0);
    const run = await db.target.query<{ status: string; error: { name: string } }>(`SELECT status, error FROM pgferry.runs WHERE run_id = $1`, [summary.runId]);
    expect(run.rows[0]).toMatchObject({ status: 'failed', error: { name: 'TaskBudgetExceededError' } });
    const state = await db.target.query(`SELECT cursor, lease_run_id FROM pgferry.pipeline_state WHERE pipeline = 'budget_extract'`);
    expect(state.rows[0]).toMatchObject({ cursor: null, lease_run_id: null });
  });

  it('takes task_budget from the pipeline file (a tighter bound than the invocation), validated from 1 second to 15 minutes', async () => {
    const text = (budget: string): string => `name: budget_file
task_budget: ${budget}
source: {type: postgres, connection_type: url, connection_id: "${db.sourceUrl}", query: "SELECT id, v, pg_sleep(0.002) IS NOT NULL AS slept FROM public.items"}
sink: {type: postgres, connection_type: url, connection_id: "${db.targetUrl}", table: {name: budget_file}, strategy: {mode: full_refresh}}
`;
    expect(() => parsePipeline(text('20 minutes'), 'budget.yaml')).toThrow(/task_budget: expected a duration .* from 1 second to 15 minutes/);
    const config = parsePipeline(text('2 seconds'), 'budget.yaml');
    expect(config.task_budget).toBe(2000);
    const summary = await runLocal(config);
    expect(summary).toMatchObject({ status: 'failed', error: { name: 'TaskBudgetExceededError' } });
    expect(summary.error?.message).toMatch(/within the task's 2 s budget/);
  });

  it("cancels an apply that outlasts the budget: the target keeps its rows and TRUNCATE's lock is released", async () => {
    await db.target.query(`CREATE TABLE public.budget_apply (id bigint PRIMARY KEY, v text);
      INSERT INTO public.budget_apply VALUES (1, 'kept');
      CREATE FUNCTION public.slow_row() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN PERFORM pg_sleep(0.0006); RETURN NEW; END';
      CREATE TRIGGER slow BEFORE INSERT ON public.budget_apply FOR EACH ROW EXECUTE FUNCTION public.slow_row();`);
    const config = pipelineConfig(db.sourceUrl, db.targetUrl, {
      name: 'budget_apply',
      source: { table: { schema: 'public', name: 'items' } },
      sink: { table: { schema: 'public', name: 'budget_apply' } },
    });
    const summary = await runLocal(config, { taskBudgetSeconds: 2 });
    expect(summary).toMatchObject({ status: 'failed', error: { name: 'TaskBudgetExceededError' } });
    expect(summary.error?.message).toMatch(/^inserting into the target did not finish/);
    expect(await busy(db.target, 'INSERT INTO "public"."budget_apply"%')).toBe(0);
    const locks = await db.target.query(`SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'public.budget_apply'::regclass AND pid <> pg_backend_pid()`);
    expect(locks.rows[0]?.n).toBe(0);
    expect(await db.target.query(`SELECT id, v FROM public.budget_apply`).then((r) => r.rows)).toEqual([{ id: '1', v: 'kept' }]);
    // With the default budget the same run completes.
    const ok = await runLocal(config);
    expect(ok.status).toBe('succeeded');
    expect(await rowHashes(db.target, 'public.budget_apply')).toEqual(await rowHashes(db.source, 'public.items'));
  });

  it('binds a session: the idle-in-transaction timeout, the client check, and a statement_timeout of the time left, also after rollbacks', async () => {
    const client = await db.server.client(db.targetUrl);
    await bindBudget(client, budgetOf(20));
    const settings = async () =>
      (
        await client.query<{ st: number; idle: number; checks: string }>(
          `SELECT (SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout') AS st,
            (SELECT setting::int FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout') AS idle,
            current_setting('client_connection_check_interval') AS checks`,
        )
      ).rows[0];
    const first = await settings();
    // An idle transaction ends with the budget (a fenced state session may wait idle while the target works).
    expect(first).toMatchObject({ checks: '2s' });
    expect(first?.idle).toBeGreaterThan(18_000);
    expect(first?.idle).toBeLessThanOrEqual(20_000);
    // 20 s less the margin (a fifth of a short budget): 16 s, as each statement starts.
    expect(first?.st).toBeLessThanOrEqual(16_000);
    expect(first?.st).toBeGreaterThan(14_000);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // Set inside a transaction that rolls back, the value is undone by the rollback: the next statement sets it again.
    await client.query('BEGIN');
    const inside = (await settings())?.st ?? 0;
    expect(inside).toBeLessThan(first?.st ?? 0);
    await client.query('ROLLBACK');
    expect((await settings())?.st).toBeLessThanOrEqual(inside);
    // The same for ROLLBACK TO SAVEPOINT, which leaves the transaction open.
    await client.query('BEGIN');
    await client.query('SAVEPOINT s');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const saved = (await settings())?.st ?? 0;
    expect(saved).toBeLessThan(inside);
    await client.query('ROLLBACK TO SAVEPOINT s');
    expect((await settings())?.st).toBeLessThanOrEqual(saved);
    await client.query('COMMIT');
  });
});

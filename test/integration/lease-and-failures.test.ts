import '../../lib/local/polyfills.ts';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../lib/config/index.ts';
import { openConnection } from '../../lib/connections/index.ts';
import { LOCAL_RESOURCES, runLocal } from '../../lib/local/runner.ts';
import type { RunSummary } from '../../lib/state/types.ts';
import { buildDefinition, MAX_PLAN_OUTPUT_BYTES, TaskStates, type TaskKey } from '../../lib/workflow/definition.ts';
import { TASKS } from '../../lib/workflow/tasks/index.ts';
import type { TaskDeps } from '../../lib/workflow/types.ts';
import { rowHashes } from '../helpers/compare.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The pipeline with a lease of `ttl` ms: the `state.lease_ttl` key of the pipeline file. */
function withLease(config: PipelineConfig, ttl: number): PipelineConfig {
  return { ...config, state: { ...config.state, lease_ttl: ttl } };
}

/**
 * Runs the definition with the real task functions and returns the error the execution ended with: what
 * the Fail state puts in the console, the alarm and `pgferry start --wait`. `mapFailure` makes a failed chunk
 * surface as a Distributed Map reports it on AWS (the local interpreter runs the map inline).
 */
async function executionError(config: PipelineConfig, runId: string, options: { mapFailure?: boolean } = {}): Promise<Error> {
  const deps: TaskDeps = { pipeline: () => config, connect: (ref, o) => openConnection(ref, o), log: silent };
  const handlers: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [key, state] of Object.entries(TaskStates) as [TaskKey, string][]) {
    handlers[state] = async (input: never) => {
      try {
        return await TASKS[key](input, deps);
      } catch (error) {
        if (key !== 'extractChunk' || !options.mapFailure) throw error;
        throw Object.assign(new Error('The specified tolerated failure threshold was exceeded'), { name: 'States.ExceedToleratedFailureThreshold' });
      }
    };
  }
  const machine = new StateMachine(buildDefinition(config, LOCAL_RESOURCES) as never, { validationOptions: { noValidate: true } });
  const execution = machine.run({} as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: Object.fromEntries(Object.values(TaskStates).map((s) => [s, 10])) },
    context: { Execution: { Name: runId, Id: `arn:aws:states:local:000000000000:execution:pgferry-${config.name}:${runId}` } } as never,
  });
  const outcome = await execution.result.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(outcome).toBeInstanceOf(ExecutionError);
  return (outcome as ExecutionError).cause as Error;
}

describe('Feature: the lease lives as long as the run', () => {
  const db = useSourceAndTarget(`CREATE TABLE public.orders (id bigint PRIMARY KEY, v text);
    INSERT INTO public.orders SELECT g, 'v' || g FROM generate_series(1, 3000) g; ANALYZE public.orders;`);

  it('holds a lease shorter than the apply until the fence, and skips a second run meanwhile instead of letting it take over', async () => {
    const config = withLease(pipelineConfig(db.sourceUrl, db.targetUrl, { name: 'long_apply', options: { chunk_rows: 1000 } }), 2_000);
    let second: RunSummary | undefined;
    let leaseDuringApply: { holder: string; left: number } | undefined;
    const first = await runLocal(config, {
      runId: 'long-apply',
      hooks: {
        // Index builds ahead of an exchange, say: three lease lifetimes pass before the fence.
        beforeApplyFence: async () => {
          await sleep(3_000);
          second = await runLocal(config, { runId: 'meanwhile' });
          await sleep(3_000);
          const r = await db.target.query(
            `SELECT lease_run_id, extract(epoch FROM lease_until - now()) AS left FROM pgferry.pipeline_state WHERE pipeline = 'long_apply'`,
          );
          leaseDuringApply = { holder: r.rows[0].lease_run_id, left: Number(r.rows[0].left) };
        },
      },
    });
    expect(second).toMatchObject({ status: 'skipped', error: { name: 'LeaseHeldError' } });
    expect(leaseDuringApply?.holder).toBe('long-apply');
    expect(leaseDuringApply?.left).toBeGreaterThan(0);
    expect(first).toMatchObject({ status: 'succeeded', rowsExtracted: 3000 });
    expect(await rowHashes(db.target, 'public.orders')).toEqual(await rowHashes(db.source, 'public.orders'));
    const runs = await db.target.query(`SELECT run_id, status FROM pgferry.runs WHERE pipeline = 'long_apply' ORDER BY started_at`);
    expect(runs.rows).toEqual([{ run_id: 'long-apply', status: 'succeeded' }]);
  }, 60_000);

  it('holds it through a chunk that copies for longer than the lease lasts', async () => {
    const config = withLease(
      pipelineConfig(db.sourceUrl, db.targetUrl, {
        name: 'long_chunk',
        sink: { table: { schema: 'public', name: 'orders_long_chunk' } },
        // One row of the only chunk takes 5 s to read: 2.5 lease lifetimes in one COPY.
        options: { chunk_rows: 100_000, custom_predicate: '(id <> 1500 OR pg_sleep(5) IS NOT NULL)' },
      }),
      2_000,
    );
    const first = runLocal(config, { runId: 'long-chunk' });
    await sleep(3_500);
    const second = await runLocal(config, { runId: 'during-chunk' });
    expect(second).toMatchObject({ status: 'skipped', error: { name: 'LeaseHeldError' } });
    expect(await first).toMatchObject({ status: 'succeeded', rowsExtracted: 3000 });
  }, 60_000);

  it('lets a second run skip at once, not wait, while the first holds the row inside its apply transaction', async () => {
    const config = pipelineConfig(db.sourceUrl, db.targetUrl, { name: 'in_commit', sink: { table: { schema: 'public', name: 'orders_in_commit' } } });
    let second: RunSummary | undefined;
    let waited = 0;
    const first = await runLocal(config, {
      runId: 'in-commit',
      hooks: {
        beforeApplyCommit: async () => {
          const started = Date.now();
          second = await runLocal(config, { runId: 'blocked' });
          waited = Date.now() - started;
        },
      },
    });
    expect(first.status).toBe('succeeded');
    expect(second).toMatchObject({ status: 'skipped', error: { name: 'LeaseHeldError' } });
    // It gave up after the 5 s lock timeout of the lease, rather than the whole apply.
    expect(waited).toBeLessThan(15_000);
  }, 60_000);
});

describe('Feature: a failed execution ends with the cause recorded in runs', () => {
  const db = useSourceAndTarget(`CREATE TABLE public.orders (id bigint, v text);
    INSERT INTO public.orders SELECT g, 'v' || g FROM generate_series(1, 3000) g;
    CREATE TABLE public.dupes (id bigint, v text);
    INSERT INTO public.dupes SELECT g % 500, 'v' || g FROM generate_series(1, 1000) g; ANALYZE;`);

  async function recorded(runId: string): Promise<{ name: string; message: string }> {
    return (await db.target.query(`SELECT error FROM pgferry.runs WHERE run_id = $1`, [runId])).rows[0]?.error;
  }

  it("for a failing chunk: the Fail state carries the chunk's error, not the map's", async () => {
    const config = pipelineConfig(db.sourceUrl, db.targetUrl, {
      name: 'bad_chunk',
      sink: { table: { schema: 'public', name: 'bad_chunk' } },
      options: { chunk_column: 'id', chunk_rows: 1000, custom_predicate: '1 / (id - 2500) IS NOT NULL' },
    });
    for (const mapFailure of [false, true]) {
      const runId = `bad-chunk-${mapFailure}`;
      const error = await executionError(config, runId, { mapFailure });
      const stored = await recorded(runId);
      expect(stored.name).toBe('DatabaseError');
      expect(stored.message).toContain('division by zero');
      expect({ name: error.name, message: error.message }).toEqual(stored);
    }
  });

  it('for a failing apply', async () => {
    const config = pipelineConfig(db.sourceUrl, db.targetUrl, {
      name: 'bad_apply',
      source: { table: { schema: 'public', name: 'dupes' } },
      sink: { table: { schema: 'public', name: 'bad_apply' } },
      strategy: { mode: 'incremental_merge', unique_key: ['id'] },
    });
    const error = await executionError(config, 'bad-apply');
    const stored = await recorded('bad-apply');
    expect(stored.name).toBe('DuplicateKeyError');
    expect({ name: error.name, message: error.message }).toEqual(stored);
  });
});

describe('Feature: Plan refuses a plan whose output would pass the payload limit', () => {
  const db = useSourceAndTarget(`CREATE TABLE public.orders (id bigint PRIMARY KEY, v int);
    INSERT INTO public.orders SELECT g, g FROM generate_series(1, 420000) g; ANALYZE public.orders;`);

  it('before anything is written, naming the chunk_rows that would fit', async () => {
    const config = pipelineConfig(db.sourceUrl, db.targetUrl, { name: 'too_many', options: { chunk_rows: 10 } });
    const summary = await runLocal(config, { runId: 'too-many' });
    expect(summary).toMatchObject({ status: 'failed', error: { name: 'ConfigError' } });
    const message = summary.error?.message ?? '';
    expect(message).toContain('source.options.chunk_rows');
    expect(message).toContain(`${MAX_PLAN_OUTPUT_BYTES}-byte limit`);
    const fits = Number(/set chunk_rows to (\d+) or more/.exec(message)?.[1]);
    expect(fits).toBeGreaterThan(10);
    // Nothing of the run was created: no staging table, no chunks; the lease is free again.
    const staging = await db.target.query(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgferry_staging'`,
    );
    expect(staging.rows[0].n).toBe(0);
    const chunks = await db.target.query(`SELECT count(*)::int AS n FROM pgferry.run_chunks WHERE run_id = 'too-many'`);
    expect(chunks.rows[0].n).toBe(0);
    const lease = await db.target.query(`SELECT lease_run_id FROM pgferry.pipeline_state WHERE pipeline = 'too_many'`);
    expect(lease.rows[0].lease_run_id).toBeNull();

    // The chunk_rows it names does fit.
    const fixed = await runLocal({ ...config, source: { ...config.source, options: { ...config.source.options, chunk_rows: fits } } });
    expect(fixed).toMatchObject({ status: 'succeeded', rowsExtracted: 420000 });
  }, 120_000);
});

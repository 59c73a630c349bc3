// Regression: an execution that ended outside the Catch (its timeout, StopExecution, a payload over the limit)
// left the lease held until it expired, its staging tables behind and its run 'running' forever.
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serializePipelines } from '../../lib/aws/bundled-pipelines.ts';
import { LambdaEnv } from '../../lib/aws/constants.ts';
import { loadPipelineFile, type PipelineConfig } from '../../lib/config/index.ts';
import { runLocal } from '../../lib/local/runner.ts';
import { openConnection } from '../../lib/connections/index.ts';
import { ConnectionError, ServerUnreachableError } from '../../lib/errors.ts';
import { cleanupEvent, type CleanupEventOutput } from '../../lib/workflow/tasks/cleanup.ts';
import type { TaskDeps } from '../../lib/workflow/types.ts';
import type { CrashRun } from '../helpers/crash-child.ts';
import { rowHashes } from '../helpers/compare.ts';
import { statusEvent } from '../helpers/events.ts';
import { copyMidStream, gateFunctionSql, until } from '../helpers/copy-gate.ts';
import { runAndKill } from '../helpers/crash-run.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { tempDir } from '../helpers/temp.ts';

/** Advisory lock the source's gate function waits on, so the test can hold a COPY mid-stream. */
const GATE_LOCK = 734229;
const SEED = 3000;
const GATE_ID = 5000;

type Handler = (event: unknown, context: Context) => Promise<CleanupEventOutput>;

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'pgferry-cleanup',
    functionVersion: '7',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:pgferry-cleanup',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/pgferry/pgferry/tasks',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 900_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A run killed (SIGKILL) at each step, then the status-change event its execution would end with. */
const KILLS = [
  { name: 'killed_plan', point: 'after-plan', runId: 'killed-plan', event: 'ABORTED', status: 'aborted' },
  { name: 'killed_copy', point: 'mid-copy', runId: 'killed-copy', event: 'TIMED_OUT', status: 'timed_out' },
  { name: 'killed_chunks', point: 'after-chunks', runId: 'killed-chunks', event: 'TIMED_OUT', status: 'timed_out' },
  { name: 'killed_apply', point: 'mid-apply', runId: 'killed-apply', event: 'ABORTED', status: 'aborted' },
  { name: 'killed_after_apply', point: 'after-apply', runId: 'killed-after-apply', event: 'ABORTED', status: 'succeeded' },
] as const;

interface Case {
  readonly name: string;
  readonly config: PipelineConfig;
  readonly source: pg.Client;
  readonly target: pg.Client;
  readonly gate: pg.Client;
  readonly databases: readonly string[];
  readonly oldRows: string[];
  readonly oldCursor: unknown;
}

describe('Task: cleanup, driven by the execution status-change events EventBridge delivers', () => {
  let server: TestPostgres;
  let dir: string;
  let handler: Handler;
  const cases = new Map<string, Case>();
  const saved = { ...process.env };
  const configs: PipelineConfig[] = [];

  async function prepare(name: string, leaseTtl = '15 minutes'): Promise<Case> {
    const sourceUrl = await server.createDatabase('clsrc');
    const targetUrl = await server.createDatabase('cldst');
    const source = await server.client(sourceUrl);
    const target = await server.client(targetUrl);
    const gate = await server.client(sourceUrl);
    await source.query(`CREATE TABLE public.events (id bigint PRIMARY KEY, v text, updated_at timestamptz(6) NOT NULL)`);
    await source.query(
      `INSERT INTO public.events SELECT g, 'seed ' || g || repeat(' pad', 10), timestamptz '2026-06-03 12:00:00+00' + g * interval '1 second' FROM generate_series(1, ${SEED}) g`,
    );
    await source.query(gateFunctionSql('gate', GATE_LOCK, GATE_ID));
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      `name: ${name}
source:
  type: postgres
  connection_type: url
  connection_id: "${sourceUrl}"
  table: {schema: public, name: events}
  options: {incremental_strategy: column, incremental_column: updated_at, custom_predicate: "public.gate(id)", chunk_rows: 1000, max_parallel_chunks: 1}
sink:
  type: postgres
  connection_type: url
  connection_id: "${targetUrl}"
  table: {schema: public, name: events}
  strategy: {mode: incremental_merge, unique_key: [id]}
state: {lease_ttl: ${leaseTtl}}
`,
    );
    const config = await loadPipelineFile(file);
    configs.push(config);
    expect((await runLocal(config)).status).toBe('succeeded');
    const oldRows = await rowHashes(target, 'public.events');
    const oldCursor = (await target.query(`SELECT cursor FROM pgferry.pipeline_state WHERE pipeline = $1`, [name])).rows[0]?.cursor;
    // What the killed run was loading: updates and new rows, the gate row last.
    await source.query(
      `UPDATE public.events SET v = 'changed ' || id, updated_at = timestamptz '2026-06-04 00:00:00+00' + id * interval '1 ms' WHERE id % 3 = 0`,
    );
    await source.query(
      `INSERT INTO public.events SELECT g, 'new ' || g, timestamptz '2026-06-05 00:00:00+00' + g * interval '1 ms' FROM generate_series(${SEED + 1}, ${GATE_ID}) g`,
    );
    const c: Case = {
      name,
      config,
      source,
      target,
      gate,
      databases: [new URL(sourceUrl).pathname.slice(1), new URL(targetUrl).pathname.slice(1)],
      oldRows,
      oldCursor,
    };
    cases.set(name, c);
    return c;
  }

  /** Resolves once the case's COPY stands at the gate with data in the target. */
  async function midCopy(c: Case): Promise<void> {
    await copyMidStream(c.gate, c.databases[0] as string, c.databases[1] as string, c.name);
  }

  async function stagingTables(c: Case): Promise<number> {
    const r = await c.target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgferry_staging' AND c.relkind = 'r'`,
    );
    return r.rows[0]?.n ?? -1;
  }

  async function stateOf(
    c: Case,
    runId: string,
  ): Promise<{ lease: string | null; cursor: unknown; status: string; error: { name: string; message: string } | null }> {
    const s = await c.target.query(`SELECT lease_run_id, cursor FROM pgferry.pipeline_state WHERE pipeline = $1`, [c.name]);
    const r = await c.target.query(`SELECT status, error FROM pgferry.runs WHERE run_id = $1`, [runId]);
    return { lease: s.rows[0]?.lease_run_id ?? null, cursor: s.rows[0]?.cursor, status: r.rows[0]?.status, error: r.rows[0]?.error ?? null };
  }

  /** After the cleanup: the next run loads exactly the source. */
  async function nextRunIsExact(c: Case): Promise<void> {
    const next = await runLocal(c.config);
    expect(next.status, JSON.stringify(next.error)).toBe('succeeded');
    expect(await rowHashes(c.target, 'public.events')).toEqual(await rowHashes(c.source, 'public.events'));
  }

  beforeAll(async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    server = await startTestPostgres();
    dir = tempDir('pgferry-cleanup-');
    for (const k of KILLS) await prepare(k.name);
    const killedCopy = cases.get('killed_copy')!;
    await prepare('stray_chunk', '3 seconds');
    await prepare('recorded');

    // The cleanup Lambda as deployed: the bundled pipelines file and the name prefix in its environment.
    const bundle = join(dir, 'pipelines.json');
    writeFileSync(bundle, serializePipelines(configs));
    process.env[LambdaEnv.pipelinesFile] = bundle;
    process.env[LambdaEnv.namePrefix] = 'pgferry';
    process.env.POWERTOOLS_METRICS_NAMESPACE = 'pgferry';
    handler = (await import('../../lambdas/cleanup.ts')).handler as unknown as Handler;

    // One run per step in one child process, SIGKILLed once every run stands at its step.
    await killedCopy.gate.query(`SELECT pg_advisory_lock(${GATE_LOCK})`);
    const runs: CrashRun[] = KILLS.map((k) => ({ file: join(dir, `${k.name}.yaml`), point: k.point, ready: join(dir, `${k.name}.ready`), runId: k.runId }));
    await runAndKill(runs, join(dir, 'plan.json'), () =>
      Promise.all(
        KILLS.map((k, i) =>
          k.point === 'mid-copy' ? midCopy(killedCopy) : until(`${k.name} to stop at ${k.point}`, async () => (existsSync(runs[i]!.ready) ? true : undefined)),
        ),
      ),
    );
    await killedCopy.gate.query(`SELECT pg_advisory_unlock(${GATE_LOCK})`);
    for (const k of KILLS) expect(await stagingTables(cases.get(k.name)!), k.name).toBe(2);
  }, 180_000);

  afterAll(async () => {
    process.env = saved;
    vi.restoreAllMocks();
    await server?.stop();
  });

  it.each(KILLS)('after a run killed $point, $event: the run is $status, the lease free, staging gone; the next run is exact', async (k) => {
    const c = cases.get(k.name)!;
    const out = await handler(statusEvent(k.runId, k.event, { machine: `pgferry-${k.name}` }), lambdaContext());
    expect(out).toMatchObject({ pipeline: k.name, runId: k.runId, status: k.status, recorded: k.status !== 'succeeded' });
    const state = await stateOf(c, k.runId);
    expect(state).toMatchObject({ lease: null, status: k.status });
    if (k.status === 'succeeded') {
      // Apply had committed: the new rows and cursor stand; only Finalize's work was left.
      expect(state.cursor).not.toEqual(c.oldCursor);
      expect(await rowHashes(c.target, 'public.events')).toEqual(await rowHashes(c.source, 'public.events'));
    } else {
      expect(state.error?.name).toBe(k.event === 'TIMED_OUT' ? 'ExecutionTimedOut' : 'ExecutionAborted');
      expect(state.cursor).toEqual(c.oldCursor);
      expect(await rowHashes(c.target, 'public.events')).toEqual(c.oldRows);
    }
    expect(await stagingTables(c)).toBe(0);
    await nextRunIsExact(c);
  });

  it('stops a chunk that still copies for an aborted run: its heartbeat finds the lease gone and the chunk ends with LeaseLostError', async () => {
    const c = cases.get('stray_chunk')!;
    await c.gate.query(`SELECT pg_advisory_lock(${GATE_LOCK})`);
    const errors: string[] = [];
    const running = runLocal(c.config, {
      runId: 'stray',
      retryIntervalMs: 50,
      wrapTask: (key, fn) => async (input, deps) => {
        try {
          return await fn(input, deps);
        } catch (error) {
          if (key === 'extractChunk') errors.push((error as Error).name);
          throw error;
        }
      },
    });
    try {
      await midCopy(c);
      // The execution was stopped; its ExtractChunk Lambda is still alive in the middle of its COPY.
      const out = await handler(statusEvent('stray', 'ABORTED', { machine: 'pgferry-stray_chunk' }), lambdaContext());
      expect(out).toMatchObject({ status: 'aborted', recorded: true });
      const summary = await running;
      expect(errors).toEqual(['LeaseLostError']);
      // The first recorded end stands; the stray's later failure does not overwrite it.
      expect(summary).toMatchObject({ status: 'failed', error: { name: 'ExecutionAborted' } });
    } finally {
      await c.gate.query(`SELECT pg_advisory_unlock(${GATE_LOCK})`);
    }
    expect(await stateOf(c, 'stray')).toMatchObject({ lease: null, status: 'aborted' });
    expect(await stagingTables(c)).toBe(0);
    const copying = await c.gate.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'COPY%' AND state = 'active'`,
      [c.databases[1]],
    );
    expect(copying.rows[0]?.n).toBe(0);
    await nextRunIsExact(c);
  });

  it('after RecordFailure already ran (FAILED), keeps its record and finds nothing left to do', async () => {
    const c = cases.get('recorded')!;
    await c.source.query(`ALTER TABLE public.events RENAME TO events_gone`);
    const failed = await runLocal(c.config, { runId: 'recorded-failure' });
    expect(failed.status).toBe('failed');
    const before = await stateOf(c, 'recorded-failure');
    const out = await handler(
      statusEvent('recorded-failure', 'FAILED', { machine: 'pgferry-recorded', error: before.error?.name ?? '', cause: before.error?.message ?? '' }),
      lambdaContext(),
    );
    expect(out).toMatchObject({ status: 'failed', recorded: false, stoppedSessions: 0 });
    expect(await stateOf(c, 'recorded-failure')).toEqual(before);
    await c.source.query(`ALTER TABLE public.events_gone RENAME TO events`);
    await nextRunIsExact(c);
  });

  it("records the execution's own error when RecordFailure never ran (States.DataLimitExceeded)", async () => {
    const c = cases.get('recorded')!;
    await c.target.query(`INSERT INTO pgferry.runs (run_id, pipeline, status) VALUES ('over-limit', 'recorded', 'running')`);
    const out = await handler(
      statusEvent('over-limit', 'FAILED', {
        machine: 'pgferry-recorded',
        error: 'States.DataLimitExceeded',
        cause: 'The state/task returned a result with a size exceeding the maximum number of bytes service limit.',
      }),
      lambdaContext(),
    );
    expect(out).toMatchObject({ status: 'failed', recorded: true });
    expect((await stateOf(c, 'over-limit')).error).toEqual({
      name: 'States.DataLimitExceeded',
      message: 'The state/task returned a result with a size exceeding the maximum number of bytes service limit.',
    });
  });

  it.each([
    ["a Distributed Map child execution (its parent's event cleans up)", statusEvent('child', 'FAILED', { machine: 'pgferry-recorded/0f1e2d3c-map-run' })],
    ["another deployment's state machine", statusEvent('other', 'ABORTED', { machine: 'etl-recorded' })],
    ['a pipeline this deployment does not have', statusEvent('unknown', 'ABORTED', { machine: 'pgferry-no_such_pipeline' })],
    ['a status that needs no cleanup', statusEvent('fine', 'SUCCEEDED', { machine: 'pgferry-recorded' })],
  ])('ignores %s', async (_what, event) => {
    const out = await handler(event, lambdaContext());
    expect(out).toHaveProperty('ignored');
  });

  it('tries again after transient errors (a state database failing over), where Lambda itself would retry only twice', async () => {
    const c = cases.get('recorded')!;
    await c.target.query(`INSERT INTO pgferry.runs (run_id, pipeline, status) VALUES ('during-failover', 'recorded', 'running')`);
    let refused = 0;
    const deps: TaskDeps = {
      pipeline: () => c.config,
      connect: async (ref, options) => {
        if (refused < 3) {
          refused += 1;
          throw new ServerUnreachableError('cannot connect: connection refused', 'test', 'ECONNREFUSED');
        }
        return openConnection(ref, options);
      },
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    };
    const out = await cleanupEvent(statusEvent('during-failover', 'TIMED_OUT', { machine: 'pgferry-recorded' }), deps, 'pgferry', {
      retrySeconds: [0, 0, 0, 0],
    });
    expect(refused).toBe(3);
    expect(out).toMatchObject({ status: 'timed_out', recorded: true });
    // A data error is not retried.
    const broken: TaskDeps = { ...deps, connect: async () => Promise.reject(new ConnectionError('authentication failed', 'test', '28P01')) };
    await expect(
      cleanupEvent(statusEvent('during-failover', 'TIMED_OUT', { machine: 'pgferry-recorded' }), broken, 'pgferry', { retrySeconds: [0, 0] }),
    ).rejects.toThrow('authentication failed');
  });

  it('refuses an event that is not a status change, naming what it expects', async () => {
    await expect(handler({ source: 'aws.s3', 'detail-type': 'Object Created', detail: {} }, lambdaContext())).rejects.toThrow(
      /expected an EventBridge "Step Functions Execution Status Change" event/,
    );
  });
});

import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serializePipelines } from '../../lib/aws/bundled-pipelines.ts';
import { LambdaEnv } from '../../lib/aws/constants.ts';
import { loadPipelineFile } from '../../lib/config/index.ts';
import type { RunSummary } from '../../lib/state/types.ts';
import type { ApplyOutput, ChunkOutput, PlanOutput } from '../../lib/workflow/types.ts';
import { rowHashes } from '../helpers/compare.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { awsPipelineYaml, fakeSecrets, pipelinesDir, tempDir } from '../cdk/helpers.ts';

/** A Context as the Lambda runtime passes it. */
function lambdaContext(task: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: `pgferry-test-${task}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:pgferry-test-${task}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/pgferry/pgferry-lambda/tasks',
    logStreamName: `2026/06/03/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => 900_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

type Handler<I, O> = (event: I, context: Context) => Promise<O>;

/** What the handlers write to stdout (Powertools' JSON logs and EMF metrics), kept out of the test output. */
const stdout: string[] = [];

/** EMF documents Powertools wrote to stdout while `fn` ran. */
async function emitted<T>(fn: () => Promise<T>): Promise<{ result: T; metrics: Record<string, unknown>[] }> {
  const mark = stdout.length;
  const result = await fn();
  const lines = stdout.slice(mark).flatMap((l) => l.split('\n'));
  return { result, metrics: lines.filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('Lambdas: each handler does what its task does in the local runner', () => {
  let server: TestPostgres;
  let source: pg.Client;
  let target: pg.Client;
  let secrets: ReturnType<typeof fakeSecrets>;
  const saved = { ...process.env };
  let plan: Handler<unknown, PlanOutput>;
  let extract: Handler<unknown, ChunkOutput>;
  let apply: Handler<unknown, ApplyOutput>;
  let finalize: Handler<unknown, RunSummary>;
  let recordFailure: Handler<unknown, RunSummary>;

  beforeAll(async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    server = await startTestPostgres();
    const sourceUrl = await server.createDatabase('src');
    const targetUrl = await server.createDatabase('dst');
    source = await server.client(sourceUrl);
    target = await server.client(targetUrl);
    await source.query(`CREATE TABLE public.orders (id bigint PRIMARY KEY, customer text, amount numeric(12,2), tags text[]);
      INSERT INTO public.orders SELECT g, 'c' || (g % 7), g / 3.0, ARRAY['a', g::text] FROM generate_series(1, 2500) g;
      ANALYZE public.orders;`);
    const dir = pipelinesDir({
      'lambda.yaml': awsPipelineYaml('lambda', { sslmode: 'disable', chunkRows: 1000 }),
      'missing.yaml': awsPipelineYaml('missing', { sslmode: 'disable', source: 'lambda/source', target: 'lambda/target', table: 'no_such_table' }),
      'other.yaml': awsPipelineYaml('other', { sslmode: 'disable', source: 'lambda/source', target: 'lambda/target' }),
    });
    const configs = await Promise.all(['lambda', 'missing', 'other'].map((n) => loadPipelineFile(join(dir, `${n}.yaml`))));
    const bundle = join(tempDir(), 'pipelines.json');
    writeFileSync(bundle, serializePipelines(configs));
    // As the TaskFunction construct sets them; `other` is bundled but not served by these functions.
    process.env[LambdaEnv.pipelinesFile] = bundle;
    process.env[LambdaEnv.pipelines] = 'lambda,missing';
    process.env.AWS_REGION = 'eu-west-1';
    secrets = fakeSecrets({ 'lambda/source': sourceUrl, 'lambda/target': targetUrl, 'missing/source': sourceUrl, 'missing/target': targetUrl });
    plan = (await import('../../lambdas/plan.ts')).handler as Handler<unknown, PlanOutput>;
    extract = (await import('../../lambdas/extract-chunk.ts')).handler as Handler<unknown, ChunkOutput>;
    apply = (await import('../../lambdas/apply.ts')).handler as Handler<unknown, ApplyOutput>;
    finalize = (await import('../../lambdas/finalize.ts')).handler as Handler<unknown, RunSummary>;
    recordFailure = (await import('../../lambdas/record-failure.ts')).handler as Handler<unknown, RunSummary>;
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    process.env = saved;
    secrets?.restore();
    await server?.stop();
  });

  it('chains plan -> extract-chunk (every chunk) -> apply -> finalize and loads the target', async () => {
    const runId = `exec-${randomUUID()}`;
    const planned = await plan({ pipeline: 'lambda', runId, request: {} }, lambdaContext('plan'));
    expect(planned).toMatchObject({ pipeline: 'lambda', runId });
    expect(planned.chunks.length).toBeGreaterThan(1);
    let rows = 0;
    for (const chunk of planned.chunks) {
      const out = await extract({ pipeline: 'lambda', runId, chunk }, lambdaContext('extract-chunk'));
      expect(out.chunk).toBe(chunk);
      rows += out.rows;
    }
    expect(rows).toBe(2500);
    expect(await apply({ pipeline: 'lambda', runId }, lambdaContext('apply'))).toMatchObject({ rowsInserted: 2500 });
    const { result: summary, metrics } = await emitted(() => finalize({ pipeline: 'lambda', runId }, lambdaContext('finalize')));
    expect(summary).toMatchObject({ pipeline: 'lambda', runId, status: 'succeeded', rowsExtracted: 2500, rowsInserted: 2500, chunks: planned.chunks.length });
    expect(await rowHashes(target, 'public.orders')).toEqual(await rowHashes(source, 'public.orders'));

    // The run's metrics, as CloudWatch reads them: namespace pgferry, dimensions service and pipeline.
    const run = metrics.find((m) => 'RowsExtracted' in m);
    expect(run).toMatchObject({ service: 'pgferry', pipeline: 'lambda', RowsExtracted: 2500, RowsInserted: 2500, RunsSucceeded: 1 });
    const directive = (run?._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] }).CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe('pgferry');
    expect(directive?.Dimensions[0]?.sort()).toEqual(['pipeline', 'service']);
  });

  it('keeps the error name of a failing task (a missing source table is a DatabaseError) so Retry and Catch match on it', async () => {
    const runId = `exec-${randomUUID()}`;
    const error = await plan({ pipeline: 'missing', runId, request: {} }, lambdaContext('plan')).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.name).toBe('DatabaseError');
    expect(error?.message).toContain('no_such_table');
    expect(error?.message).toContain('does not exist');

    // What Catch hands RecordFailure: the Lambda runtime's {errorType, errorMessage} as Cause.
    const cause = JSON.stringify({ errorType: error?.name, errorMessage: error?.message, trace: [] });
    const { result: summary, metrics } = await emitted(() =>
      recordFailure({ pipeline: 'missing', runId, error: { Error: 'DatabaseError', Cause: cause } }, lambdaContext('record-failure')),
    );
    expect(summary).toMatchObject({ status: 'failed', error: { name: 'DatabaseError', message: error?.message } });
    expect(metrics.find((m) => 'RunsFailed' in m)).toMatchObject({ pipeline: 'missing', RunsFailed: 1 });
    const recorded = await target.query<{ status: string }>('SELECT status FROM pgferry.runs WHERE run_id = $1', [runId]);
    expect(recorded.rows[0]?.status).toBe('failed');
  });

  it('refuses an execution input other than {} or {"full_refresh": true} with a ConfigError', async () => {
    const error = await plan({ pipeline: 'lambda', runId: `exec-${randomUUID()}`, request: { full_refresh: 'yes' } }, lambdaContext('plan')).catch(
      (e: unknown) => e as Error,
    );
    expect(error).toMatchObject({ name: 'ConfigError' });
    expect((error as Error).message).toContain('the input must be {} or {"full_refresh": true}');
  });

  it('refuses a pipeline the function does not serve, even one in the bundled file', async () => {
    const error = await finalize({ pipeline: 'other', runId: 'x' }, lambdaContext('finalize')).catch((e: unknown) => e as Error);
    expect(error).toMatchObject({ name: 'ConfigError' });
    expect((error as Error).message).toContain('this function serves lambda, missing');
  });
});

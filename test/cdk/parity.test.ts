import { join } from 'node:path';
import '../../lib/local/polyfills.ts';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import aslValidator from 'asl-validator';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineFile, type PipelineConfig } from '../../lib/config/index.ts';
import { ConnectionError } from '../../lib/errors.ts';
import { LOCAL_RESOURCES, runLocal } from '../../lib/local/runner.ts';
import { buildDefinition, TaskStates, type StateMachineDefinition } from '../../lib/workflow/definition.ts';
import { TASKS } from '../../lib/workflow/tasks/index.ts';
import type { StepError, TaskDeps } from '../../lib/workflow/types.ts';
import { failureOf, parseStepError } from '../../lib/workflow/tasks/record-failure.ts';
import { rowHashes } from '../helpers/compare.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { awsPipelineYaml, fakeSecrets, pipelinesDir, synthesize, synthesizedDefinition } from './helpers.ts';

describe('Parity: the deployed state machine is the one the local runner executes', () => {
  let server: TestPostgres;
  let source: pg.Client;
  let target: pg.Client;
  let config: PipelineConfig;
  let definition: StateMachineDefinition;
  let secrets: ReturnType<typeof fakeSecrets>;

  beforeAll(async () => {
    server = await startTestPostgres();
    const sourceUrl = await server.createDatabase('src');
    const targetUrl = await server.createDatabase('dst');
    source = await server.client(sourceUrl);
    target = await server.client(targetUrl);
    await source.query(`CREATE TABLE public.orders (id bigint PRIMARY KEY, customer text, amount numeric(12,2), placed_at timestamptz);
      INSERT INTO public.orders SELECT g, 'customer ' || (g % 37), g * 1.25, '2026-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 3000) g;
      ANALYZE public.orders;`);
    const dir = pipelinesDir({ 'parity.yaml': awsPipelineYaml('parity', { schedule: 'rate(15 minutes)', sslmode: 'disable', chunkRows: 1000, parallel: 3 }) });
    config = await loadPipelineFile(join(dir, 'parity.yaml'));
    const synthesized = await synthesize({ pipelinesDir: dir, noVpc: 'true' });
    definition = synthesizedDefinition(synthesized, 'parity', LOCAL_RESOURCES);
    secrets = fakeSecrets({ 'parity/source': sourceUrl, 'parity/target': targetUrl });
  });

  afterAll(async () => {
    secrets?.restore();
    await server?.stop();
  });

  it('equals buildDefinition(config, resources) once its function ARNs are mapped back to the tasks', () => {
    expect(definition).toEqual(buildDefinition(config, LOCAL_RESOURCES));
    // The validator writes QueryLanguage into what it is given.
    expect(aslValidator(structuredClone(definition)).errors).toEqual([]);
    expect((definition.States.ExtractChunks as { MaxConcurrency: number }).MaxConcurrency).toBe(3);
  });

  it('loads the pipeline when run locally against PostgreSQL, with its secrets read through Secrets Manager', async () => {
    const summary = await runLocal(config, { definition });
    expect(summary).toMatchObject({ status: 'succeeded', rowsExtracted: 3000, rowsInserted: 3000 });
    expect(summary.chunks).toBeGreaterThan(1);
    const count = await target.query<{ n: string }>('SELECT count(*) AS n FROM public.orders');
    expect(Number(count.rows[0]?.n)).toBe(3000);
    expect(await rowHashes(target, 'public.orders')).toEqual(await rowHashes(source, 'public.orders'));
    expect(secrets.commandCalls((await import('@aws-sdk/client-secrets-manager')).GetSecretValueCommand).length).toBeGreaterThan(0);
  });

  it('runs a full refresh for the input {"full_refresh": true} and picks up changed rows', async () => {
    await source.query(`UPDATE public.orders SET amount = amount + 1 WHERE id % 10 = 0; DELETE FROM public.orders WHERE id > 2900`);
    const summary = await runLocal(config, { definition, fullRefresh: true });
    expect(summary).toMatchObject({ status: 'succeeded', rowsExtracted: 2900 });
    const run = await target.query<{ full_refresh: boolean }>('SELECT full_refresh FROM pgferry.runs WHERE run_id = $1', [summary.runId]);
    expect(run.rows[0]?.full_refresh).toBe(true);
    expect(await rowHashes(target, 'public.orders')).toEqual(await rowHashes(source, 'public.orders'));
  });

  it('refuses any other execution input with a ConfigError before it connects to anything', async () => {
    const connect: TaskDeps['connect'] = async (ref) => {
      throw new ConnectionError(`must not connect (${ref.connection_id})`, ref.connection_id);
    };
    const deps: TaskDeps = { pipeline: () => config, connect, log: { info: () => undefined, warn: () => undefined, error: () => undefined } };
    const handlers = {
      [TaskStates.plan]: (input: never) => TASKS.plan(input, deps),
      // What RecordFailure returns without a state database to record in: the error it would record.
      [TaskStates.recordFailure]: async (input: { error: StepError }) => ({ status: 'failed', failure: failureOf(parseStepError(input.error)) }),
    };
    const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: false } });
    const execution = machine.run({ full_refresh: 'yes', extra: 1 } as never, {
      overrides: { taskResourceLocalHandlers: handlers as never },
      context: { Execution: { Name: 'bad-input', Id: 'arn:aws:states:local:000000000000:execution:pgferry-parity:bad-input' } } as never,
    });
    const error = await execution.result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ExecutionError);
    const cause = (error as ExecutionError).cause as Error;
    expect(cause.name).toBe('ConfigError');
    expect(cause.message).toContain('the input must be {} or {"full_refresh": true}');
  });
});

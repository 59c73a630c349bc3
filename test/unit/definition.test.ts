import { describe, expect, it } from 'vitest';
import '../../lib/local/polyfills.ts';
import { StateMachine } from 'aws-local-stepfunctions';
import aslValidator from 'asl-validator';
import {
  buildDefinition,
  LAMBDA_TIMEOUT_SECONDS,
  MAX_PLAN_OUTPUT_BYTES,
  TASK_TIMEOUT_SECONDS,
  TaskStates,
  RETRY_POLICY,
} from '../../lib/workflow/definition.ts';
import { maxChunks, planOutputBytes } from '../../lib/workflow/planning.ts';
import { LOCAL_RESOURCES } from '../../lib/local/runner.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';

const config = pipelineConfig('postgres://u@localhost/a', 'postgres://u@localhost/b', { options: { max_parallel_chunks: 7 } });

describe('Function: buildDefinition', () => {
  const definition = buildDefinition(config, LOCAL_RESOURCES);
  const states = definition.States as Record<string, Record<string, unknown>>;

  it('is a valid state machine that aws-local-stepfunctions accepts', () => {
    expect(() => new StateMachine(definition as never)).not.toThrow();
  });

  it('runs Plan, a Distributed Map of ExtractChunk with the configured concurrency, Apply, Finalize', () => {
    expect(definition.StartAt).toBe('Plan');
    expect(states.Plan?.Next).toBe('ExtractChunks');
    const map = states.ExtractChunks as {
      MaxConcurrency: number;
      ItemProcessor: { ProcessorConfig: { Mode: string }; States: Record<string, unknown> };
      Next: string;
    };
    expect(map.MaxConcurrency).toBe(7);
    expect(map.ItemProcessor.ProcessorConfig.Mode).toBe('DISTRIBUTED');
    expect(Object.keys(map.ItemProcessor.States)).toEqual([TaskStates.extractChunk]);
    expect(map.Next).toBe('Apply');
    expect(states.Apply?.Next).toBe('Finalize');
    expect(states.Finalize?.End).toBe(true);
  });

  it('catches every task into RecordFailure and then a Fail state', () => {
    for (const name of ['Plan', 'ExtractChunks', 'Apply', 'Finalize']) {
      const catchers = states[name]?.Catch as { ErrorEquals: string[]; Next: string }[];
      expect(catchers.at(-1)).toMatchObject({ ErrorEquals: ['States.ALL'], Next: 'RecordFailure' });
    }
    expect(states.RecordFailure?.Next).toBe('Failed');
    expect(states.Failed?.Type).toBe('Fail');
  });

  it('sends a held lease to a Succeed-like Pass, not to RecordFailure (a skipped run changes nothing)', () => {
    const catchers = states.Plan?.Catch as { ErrorEquals: string[]; Next: string }[];
    expect(catchers[0]).toMatchObject({ ErrorEquals: ['LeaseHeldError'], Next: 'AlreadyRunning' });
    expect(states.AlreadyRunning?.Type).toBe('Pass');
  });

  it('retries transient database errors but not data errors', () => {
    const retried = RETRY_POLICY.flatMap((r) => [...r.ErrorEquals]) as string[];
    expect(retried).toContain('TransientDatabaseError');
    for (const dataError of ['DatabaseError', 'DuplicateKeyError', 'ConfigError', 'States.ALL', 'LeaseLostError']) {
      expect(retried).not.toContain(dataError);
    }
  });

  it('keeps the payload of a 10,000-chunk run far below 256 KB', () => {
    const planOutput = { pipeline: config.name, runId: 'a'.repeat(80), chunks: Array.from({ length: 10_000 }, (_, i) => i) };
    const planBytes = Buffer.byteLength(JSON.stringify(planOutput));
    // The Map's collected output: each chunk's output is only its number (OutputPath $.chunk).
    const mapResultBytes = Buffer.byteLength(JSON.stringify(planOutput.chunks));
    expect(planBytes).toBeLessThan(64 * 1024);
    expect(mapResultBytes).toBeLessThan(64 * 1024);
    const extract = (states.ExtractChunks as { ItemProcessor: { States: Record<string, { OutputPath: string; ResultPath: null }> } }).ItemProcessor.States
      .ExtractChunk;
    expect(extract?.OutputPath).toBe('$.chunk');
    expect(states.ExtractChunks?.ResultPath).toBeNull();
  });

  it('sets an explicit timeout on every task (the local interpreter would otherwise stop tasks after 60 s)', () => {
    for (const name of ['Plan', 'Apply', 'Finalize', 'RecordFailure']) expect(states[name]?.TimeoutSeconds).toBe(930);
  });

  it("times every task out a little after its Lambda, so the Lambda's own timeout is the error that surfaces", () => {
    const extract = (states.ExtractChunks as { ItemProcessor: { States: Record<string, { TimeoutSeconds: number }> } }).ItemProcessor.States.ExtractChunk;
    for (const timeout of [extract?.TimeoutSeconds, ...['Plan', 'Apply', 'Finalize', 'RecordFailure'].map((n) => states[n]?.TimeoutSeconds as number)]) {
      expect(timeout).toBeGreaterThan(LAMBDA_TIMEOUT_SECONDS);
      expect(timeout).toBeLessThanOrEqual(LAMBDA_TIMEOUT_SECONDS + 60);
    }
  });

  it('retries transient errors across more than 3 minutes of an outage (an RDS Multi-AZ failover takes 60-120 s), connection refused included', () => {
    const retrier = RETRY_POLICY[1];
    expect(retrier.ErrorEquals).toEqual(expect.arrayContaining(['TransientDatabaseError', 'ServerUnreachableError', 'Lambda.ServiceException']));
    // Full jitter waits a uniform time up to each capped interval: half of it on average.
    const caps = Array.from({ length: retrier.MaxAttempts }, (_, i) => Math.min(retrier.MaxDelaySeconds, retrier.IntervalSeconds * retrier.BackoffRate ** i));
    const longest = caps.reduce((a, b) => a + b, 0);
    expect(longest / 2).toBeGreaterThanOrEqual(180);
    expect(Math.max(...caps)).toBe(120);
    // Every attempt also waits out its connect timeout (10 s by default) when the server does not answer.
    expect(longest).toBeLessThan(TASK_TIMEOUT_SECONDS);
  });

  it('lets a throttled task (reserved concurrency reached) wait for hours, not minutes: a chunk may hold its slot for 15', () => {
    const [throttled] = RETRY_POLICY;
    expect(throttled.ErrorEquals).toEqual(['Lambda.TooManyRequestsException']);
    const caps = Array.from({ length: throttled.MaxAttempts }, (_, i) =>
      Math.min(throttled.MaxDelaySeconds, throttled.IntervalSeconds * throttled.BackoffRate ** i),
    );
    expect(caps.reduce((a, b) => a + b, 0) / 2).toBeGreaterThan(2 * 3600);
    // It comes first: Step Functions takes the first retrier that matches.
    expect(RETRY_POLICY[1].ErrorEquals).not.toContain('Lambda.TooManyRequestsException');
  });

  it("ends a failed execution with the error RecordFailure recorded, and with the Catch's error when RecordFailure itself failed", () => {
    expect(states.RecordFailure).toMatchObject({
      ResultPath: '$.recorded',
      Next: 'Failed',
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'FailedUnrecorded' }],
    });
    expect(states.Failed).toMatchObject({ Type: 'Fail', ErrorPath: '$.recorded.failure.Error', CausePath: '$.recorded.failure.Cause' });
    expect(states.FailedUnrecorded).toMatchObject({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
  });

  it.each([
    ['full_refresh', {}],
    [
      'incremental_merge with xmin and 64 parallel chunks',
      {
        strategy: { mode: 'incremental_merge', unique_key: ['id'], merge_policy: 'upsert' },
        options: { incremental_strategy: 'xmin', max_parallel_chunks: 64 },
      },
    ],
    ['partition_replace', { strategy: { mode: 'partition_replace', partition: { column: 'day' } } }],
  ])('passes the npm asl-validator (%s)', (_what, extra) => {
    const d = buildDefinition(pipelineConfig('postgres://u@localhost/a', 'postgres://u@localhost/b', extra as never), LOCAL_RESOURCES);
    // The validator writes QueryLanguage into what it is given.
    const result = aslValidator(structuredClone(d) as never);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });
});

describe('Function: planOutputBytes', () => {
  it.each([0, 1, 9, 10, 11, 99, 100, 12_345, 50_000])('counts the JSON of a plan of %i chunks exactly (with the widest max_parallel_chunks)', (count) => {
    const output = { pipeline: 'orders', runId: 'exec-1', chunks: Array.from({ length: count }, (_, i) => i), maxParallelChunks: 256 };
    expect(planOutputBytes('orders', 'exec-1', count)).toBe(Buffer.byteLength(JSON.stringify(output)));
  });

  it('finds the most chunks that fit the limit, and one more does not', () => {
    const most = maxChunks('orders', 'a'.repeat(80));
    expect(planOutputBytes('orders', 'a'.repeat(80), most)).toBeLessThanOrEqual(MAX_PLAN_OUTPUT_BYTES);
    expect(planOutputBytes('orders', 'a'.repeat(80), most + 1)).toBeGreaterThan(MAX_PLAN_OUTPUT_BYTES);
    expect(most).toBeGreaterThan(30_000);
  });
});

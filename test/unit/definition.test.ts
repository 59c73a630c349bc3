import { describe, expect, it } from 'vitest';
import '../../lib/local/polyfills.ts';
import { StateMachine } from 'aws-local-stepfunctions';
import { buildDefinition, TaskStates, RETRY_POLICY } from '../../lib/workflow/definition.ts';
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
    const map = states.ExtractChunks as { MaxConcurrency: number; ItemProcessor: { ProcessorConfig: { Mode: string }; States: Record<string, unknown> }; Next: string };
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
    const extract = (states.ExtractChunks as { ItemProcessor: { States: Record<string, { OutputPath: string; ResultPath: null }> } }).ItemProcessor.States.ExtractChunk;
    expect(extract?.OutputPath).toBe('$.chunk');
    expect(states.ExtractChunks?.ResultPath).toBeNull();
  });

  it('sets an explicit timeout on every task (the local interpreter would otherwise stop tasks after 60 s)', () => {
    for (const name of ['Plan', 'Apply', 'Finalize', 'RecordFailure']) expect(states[name]?.TimeoutSeconds).toBe(930);
  });
});

import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main.ts';
import type { Io } from '../../lib/cli/output.ts';

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:pgferry-orders';
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:pgferry-orders:0b7c1d2e';
const MAP_RUN = 'arn:aws:states:eu-west-1:123456789012:mapRun:pgferry-orders/9f8e:1a2b';

const SUMMARY = {
  pipeline: 'orders',
  runId: '0b7c1d2e',
  status: 'succeeded',
  mode: 'full_refresh',
  strategy: 'truncate_insert',
  rowsExtracted: 1500,
  rowsInserted: 1500,
  rowsDeleted: 0,
  chunks: 2,
  bytes: 98765,
  cursorBefore: null,
  cursorAfter: null,
  durationMs: 4200,
};

function capture(): Io & { out: (l: string) => void; stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

async function start(...args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const io = capture();
  const code = await main(['node', 'pgferry', 'start', ...args, '--region', 'eu-west-1', '--poll-seconds', '0'], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('Command: pgferry start', () => {
  const sfn = mockClient(SFNClient);

  beforeEach(() => {
    sfn.reset();
    sfn
      .on(ListStateMachinesCommand)
      .resolvesOnce({
        stateMachines: [{ name: 'pgferry-customers', stateMachineArn: MACHINE.replace('orders', 'customers'), type: 'STANDARD', creationDate: new Date() }],
        nextToken: 'page-2',
      })
      .resolves({ stateMachines: [{ name: 'pgferry-orders', stateMachineArn: MACHINE, type: 'STANDARD', creationDate: new Date() }] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 5, type: 'MapRunStarted', timestamp: new Date(), mapRunStartedEventDetails: { mapRunArn: MAP_RUN } },
        { id: 4, type: 'MapStateEntered', timestamp: new Date(), stateEnteredEventDetails: { name: 'ExtractChunks' } },
      ],
    });
    sfn
      .on(DescribeMapRunCommand)
      .resolves({ itemCounts: { succeeded: 1, total: 2, running: 1, failed: 0, pending: 0, timedOut: 0, aborted: 0, resultsWritten: 1 } } as never);
  });

  afterEach(() => sfn.reset());

  it('finds the state machine by name across pages, starts it with {} and prints the execution ARN', async () => {
    const { code, stdout } = await start('orders');
    expect(code).toBe(0);
    expect(stdout).toEqual([EXECUTION]);
    const call = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(call).toEqual({ stateMachineArn: MACHINE, input: '{}' });
    expect(sfn.commandCalls(ListStateMachinesCommand)).toHaveLength(2);
  });

  it('starts with {"full_refresh": true} for --full-refresh, on the ARN given without looking it up', async () => {
    const { code } = await start('orders', '--full-refresh', '--state-machine-arn', MACHINE);
    expect(code).toBe(0);
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({ stateMachineArn: MACHINE, input: '{"full_refresh":true}' });
    expect(sfn.commandCalls(ListStateMachinesCommand)).toHaveLength(0);
  });

  it('names tables for a file that lists them: {"tables": [...]}', async () => {
    const { code } = await start('sales', '--table', 'sales.orders', '--table', 'sales."Odd.Name"', '--state-machine-arn', MACHINE);
    expect(code).toBe(0);
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input ?? '')).toEqual({ tables: ['sales.orders', 'sales."Odd.Name"'] });
  });

  it('with --wait follows a succeeded execution, printing progress and the run summary, and exits 0', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ executionArn: EXECUTION, status: 'RUNNING', stateMachineArn: MACHINE, startDate: new Date() })
      .resolves({ executionArn: EXECUTION, status: 'SUCCEEDED', stateMachineArn: MACHINE, startDate: new Date(), output: JSON.stringify(SUMMARY) });
    const { code, stdout, stderr } = await start('orders', '--wait', '--json');
    expect(code).toBe(0);
    expect(stderr.some((l) => l.includes('ExtractChunks: 1/2 chunks'))).toBe(true);
    expect(stderr.some((l) => l.includes('pipeline orders run 0b7c1d2e: succeeded'))).toBe(true);
    expect(stderr.some((l) => l.includes('rows extracted 1,500'))).toBe(true);
    expect(JSON.parse(stdout.at(-1)!)).toEqual(SUMMARY);
  });

  it('exits 3 when the execution ends as skipped (another run held the lease)', async () => {
    const skipped = {
      status: 'skipped',
      pipeline: 'orders',
      runId: '0b7c1d2e',
      error: {
        Error: 'LeaseHeldError',
        Cause: JSON.stringify({
          errorType: 'LeaseHeldError',
          errorMessage: 'pipeline orders is already running: run abc holds the lease until 2026-06-03T12:00:00Z',
        }),
      },
    };
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ executionArn: EXECUTION, status: 'SUCCEEDED', stateMachineArn: MACHINE, startDate: new Date(), output: JSON.stringify(skipped) });
    const { code, stderr } = await start('orders', '--wait');
    expect(code).toBe(3);
    expect(stderr.join('\n')).toContain('skipped: pipeline orders is already running: run abc holds the lease');
  });

  it('exits 1 with the error and its cause when the execution failed', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXECUTION,
      status: 'FAILED',
      stateMachineArn: MACHINE,
      startDate: new Date(),
      error: 'DatabaseError',
      cause: JSON.stringify({ errorType: 'DatabaseError', errorMessage: 'source table "public"."orders" does not exist', trace: [] }),
    });
    const { code, stderr } = await start('orders', '--wait');
    expect(code).toBe(1);
    expect(stderr.join('\n')).toContain('execution failed: DatabaseError: source table "public"."orders" does not exist');
  });

  it('exits 1 when the execution timed out', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXECUTION,
      status: 'TIMED_OUT',
      stateMachineArn: MACHINE,
      startDate: new Date(),
      error: 'States.Timeout',
      cause: 'The execution timed out',
    });
    const { code, stderr } = await start('orders', '--wait');
    expect(code).toBe(1);
    expect(stderr.join('\n')).toContain('execution timed out: States.Timeout: The execution timed out');
  });

  it("exits 2 when no state machine has the pipeline's name, or the name or ARN is malformed", async () => {
    const missing = await start('invoices');
    expect(missing.code).toBe(2);
    expect(missing.stderr.join('\n')).toContain('no state machine named pgferry-invoices in eu-west-1');
    expect((await start('Not A Name')).code).toBe(2);
    expect((await start('orders', '--state-machine-arn', 'arn:aws:lambda:eu-west-1:123456789012:function:x')).code).toBe(2);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

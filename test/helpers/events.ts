/** Events as EventBridge delivers them, for the tests that drive handlers with them. */
import { randomUUID } from 'node:crypto';

/** The event EventBridge delivers when an execution of `machine` ends with `status`. */
export function statusEvent(
  runId: string,
  status: string,
  options: { machine?: string; error?: string; cause?: string; input?: string } = {},
): Record<string, unknown> {
  const machine = options.machine ?? 'pgferry-x';
  const executionArn = `arn:aws:states:eu-west-1:123456789012:execution:${machine}:${runId}`;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'eu-west-1',
    resources: [executionArn],
    detail: {
      executionArn,
      stateMachineArn: `arn:aws:states:eu-west-1:123456789012:stateMachine:${machine}`,
      name: runId,
      status,
      startDate: Date.now() - 60_000,
      stopDate: Date.now(),
      input: options.input ?? '{}',
      output: null,
      inputDetails: { included: true },
      outputDetails: null,
      error: options.error ?? null,
      cause: options.cause ?? null,
    },
  };
}

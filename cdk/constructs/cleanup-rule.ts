/**
 * The EventBridge rule that runs the cleanup task whenever an execution of the deployment ends FAILED,
 * TIMED_OUT or ABORTED: the ends no Catch sees (the execution's timeout, StopExecution, a payload over the
 * limit, a RecordFailure that failed) leave no lease held, no staging table and no run "running".
 */
import { Duration, Stack, ArnFormat } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CLEANED_STATUSES } from '../../lib/workflow/tasks/cleanup.ts';

/** Properties of {@link CleanupRule}. */
export interface CleanupRuleProps {
  /** The cleanup task function. */
  readonly cleanup: lambda.IFunction;
  /** State machines named `<namePrefix>-...` are the deployment's. */
  readonly namePrefix: string;
  /** Where events the function could not take go. */
  readonly deadLetterQueue: sqs.IQueue;
}

/** The status-change rule and its target. */
export class CleanupRule extends Construct {
  public readonly rule: events.Rule;

  public constructor(scope: Construct, id: string, props: CleanupRuleProps) {
    super(scope, id);
    const machines = Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: `${props.namePrefix}-`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.rule = new events.Rule(this, 'Rule', {
      description: `pgferry: cleans up after executions of ${props.namePrefix}-* state machines that end ${CLEANED_STATUSES.join(', ')}`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...CLEANED_STATUSES], stateMachineArn: [{ prefix: machines }] },
      },
    });
    this.rule.addTarget(
      new eventTargets.LambdaFunction(props.cleanup, {
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(24),
      }),
    );
  }
}

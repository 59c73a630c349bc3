/**
 * The notice that names the table: when a table's run (an execution of a `<prefix>-<file>-Tables` machine) ends
 * FAILED, TIMED_OUT or ABORTED, EventBridge publishes one message to the alarm topic saying which execution (named
 * for its table), how it ended and why. The file's failure alarm fires too; this says which table.
 */
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CLEANED_STATUSES, TABLE_MACHINE_SUFFIX } from '../../lib/workflow/tasks/cleanup.ts';
import type { AlarmTopic } from './alarm-topic.ts';

/** Properties of {@link TableRunNotice}. */
export interface TableRunNoticeProps {
  readonly namePrefix: string;
  readonly alarmTopic: AlarmTopic;
}

/** One rule for every file of the deployment. */
export class TableRunNotice extends Construct {
  public readonly rule: events.Rule;

  public constructor(scope: Construct, id: string, props: TableRunNoticeProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'Rule', {
      description: `pgferry: names the table when a table run (${props.namePrefix}-<file>${TABLE_MACHINE_SUFFIX}) ends ${CLEANED_STATUSES.join(', ')}`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...CLEANED_STATUSES], stateMachineArn: events.Match.wildcard(`*:stateMachine:${props.namePrefix}-*${TABLE_MACHINE_SUFFIX}`) },
      },
    });
    this.rule.addTarget(
      new eventTargets.SnsTopic(props.alarmTopic.topic, {
        message: events.RuleTargetInput.fromText(
          `pgferry table run ${events.EventField.fromPath('$.detail.name')} ${events.EventField.fromPath('$.detail.status')}: ` +
            `${events.EventField.fromPath('$.detail.error')}: ${events.EventField.fromPath('$.detail.cause')} ` +
            `(${events.EventField.fromPath('$.detail.executionArn')})`,
        ),
      }),
    );
    // The topic's key must let EventBridge encrypt what it publishes.
    props.alarmTopic.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
  }
}

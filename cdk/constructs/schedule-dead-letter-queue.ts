/** Where EventBridge Scheduler puts a schedule's event it could not deliver (StartExecution kept failing), with an alarm. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { AlarmTopic } from './alarm-topic.ts';

/** Properties of {@link ScheduleDeadLetterQueue}. */
export interface ScheduleDeadLetterQueueProps {
  /** Notified when an event lands in the queue. */
  readonly alarmTopic: AlarmTopic;
  /** @default 14 days, the most SQS keeps */
  readonly retention?: Duration;
}

/** The dead-letter queue of every pgferry schedule: encrypted, TLS only, alarmed. */
export class ScheduleDeadLetterQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly alarm: cloudwatch.Alarm;

  public constructor(scope: Construct, id: string, props: ScheduleDeadLetterQueueProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.retention ?? Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.queue, [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the EventBridge Scheduler schedules; nothing consumes it, so it needs no DLQ of its own. Its alarm tells an operator.' },
    ]);
    this.alarm = new cloudwatch.Alarm(this, 'Alarm', {
      alarmDescription: 'pgferry: a schedule could not start its state machine; the undelivered events are in the queue (their attributes name the schedule)',
      metric: this.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    props.alarmTopic.notify(this.alarm);
  }
}

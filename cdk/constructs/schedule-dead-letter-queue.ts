/**
 * Where EventBridge puts what it could not deliver: a schedule's event (StartExecution kept failing) and a
 * status-change event the cleanup task could not take. Alarmed on every message sent to it.
 */
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
      {
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is itself the dead-letter queue of the EventBridge Scheduler schedules and of the cleanup events; nothing consumes it, so it needs no DLQ of its own. Its alarm tells an operator.',
      },
    ]);
    this.alarm = new cloudwatch.Alarm(this, 'Alarm', {
      alarmDescription:
        'pgferry: an event could not be delivered (a schedule could not start its state machine, or the cleanup task kept failing); it is in the queue, whose message attributes name the schedule or rule',
      // Messages sent, not messages visible: each new one alarms, even while earlier ones wait in the queue.
      metric: this.queue.metricNumberOfMessagesSent({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    props.alarmTopic.notify(this.alarm, { ok: false });
  }
}

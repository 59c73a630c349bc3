/** The SNS topic every pgferry alarm notifies: encrypted with a customer-managed key CloudWatch may use, TLS only. */
import { ArnFormat, Aws, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Properties of {@link AlarmTopic}. */
export interface AlarmTopicProps {
  /** Subscribed by e-mail (the address must confirm). @default no subscription */
  readonly email?: string;
}

/** The alarm topic and its key. */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;
  public readonly key: kms.Key;

  public constructor(scope: Construct, id: string, props: AlarmTopicProps = {}) {
    super(scope, id);
    if (props.email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.email)) {
      throw new Error(`AlarmTopic: email ${JSON.stringify(props.email)} is not an e-mail address; give one like oncall@example.com, or leave it out`);
    }
    this.key = new kms.Key(this, 'Key', {
      description: 'pgferry alarm topic',
      enableKeyRotation: true,
      // The key only protects notifications in flight; it goes when the stack goes.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch alarms cannot publish to a topic under an AWS-managed key: it must be allowed on ours.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'pgferry alarms', masterKey: this.key, enforceSSL: true });
    // The topic's own policy (enforceSSL writes one) replaces SNS's default, which let the account publish:
    // the alarms of this account must be allowed by name.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: {
            'aws:SourceArn': Stack.of(this).formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    if (props.email !== undefined) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }

  /**
   * Makes the alarm notify the topic when it fires and, with `ok` (the default), when it recovers. Alarms on
   * events (a failed execution) leave `ok` out: their recovery is only the next quiet period, and one mail per
   * failure is enough.
   */
  public notify(alarm: cloudwatch.Alarm, options: { ok?: boolean } = {}): void {
    const action = new actions.SnsAction(this.topic);
    alarm.addAlarmAction(action);
    if (options.ok ?? true) alarm.addOkAction(action);
  }
}

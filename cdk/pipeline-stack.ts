/**
 * The pgferry stack: every pipeline of the deployment (Lambdas, state machine, schedule, alarms), one
 * alarm topic, one dead-letter queue for the schedules and one dashboard.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Aws, CfnOutput, Stack, Stage, Tags, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { serializePipelines } from '../lib/aws/bundled-pipelines.ts';
import type { PipelineConfig } from '../lib/config/index.ts';
import { AlarmTopic } from './constructs/alarm-topic.ts';
import { Pipeline } from './constructs/pipeline.ts';
import { ScheduleDeadLetterQueue } from './constructs/schedule-dead-letter-queue.ts';
import { TaskNetwork } from './constructs/task-network.ts';
import type { DeploySettings } from './settings.ts';

/** Properties of {@link PipelineStack}. */
export interface PipelineStackProps extends StackProps {
  /** The validated pipelines to deploy (at least one). */
  readonly pipelines: readonly PipelineConfig[];
  /** Network, CA bundle, alarm e-mail, sizes... */
  readonly settings: DeploySettings;
}

/** Every pipeline of one deployment. */
export class PipelineStack extends Stack {
  /** The pipelines' constructs, by pipeline name. */
  public readonly pipelines: Readonly<Record<string, Pipeline>>;
  public readonly alarmTopic: AlarmTopic;
  public readonly deadLetterQueue?: ScheduleDeadLetterQueue;
  public readonly dashboard: cloudwatch.Dashboard;

  public constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, { description: 'pgferry: PostgreSQL table pipelines on Step Functions', ...props });
    const { settings } = props;
    if (props.pipelines.length === 0) throw new Error('PipelineStack: pipelines is empty; add a pipeline file to the pipelines directory');

    const pipelinesFile = writePipelinesFile(Stage.of(this)?.outdir ?? '.', serializePipelines(props.pipelines));
    const network = settings.vpc
      ? new TaskNetwork(this, 'Network', {
          vpcId: settings.vpc.vpcId,
          subnetIds: settings.vpc.subnetIds,
          ...(settings.vpc.securityGroupIds ? { securityGroupIds: settings.vpc.securityGroupIds } : {}),
        })
      : undefined;
    if (!network && !settings.noVpcAcknowledged) {
      Annotations.of(this).addWarningV2(
        'pgferry:no-vpc',
        'No VPC configured: the task Lambdas run outside any VPC and reach the databases over the internet (TLS verify-full). For databases in a VPC set vpcId and subnetIds (pgferry.settings.json or -c vpcId=... -c subnetIds=...); to keep this mode and silence the warning set "vpc": false.',
      );
    }
    this.alarmTopic = new AlarmTopic(this, 'Alarms', settings.alarmEmail !== undefined ? { email: settings.alarmEmail } : {});
    if (props.pipelines.some((p) => p.schedule)) {
      this.deadLetterQueue = new ScheduleDeadLetterQueue(this, 'ScheduleDeadLetterQueue', { alarmTopic: this.alarmTopic });
    }
    const runtime = settings.lambdaRuntime === 'nodejs24.x' ? lambda.Runtime.NODEJS_24_X : lambda.Runtime.NODEJS_22_X;

    const pipelines: Record<string, Pipeline> = {};
    for (const config of props.pipelines) {
      const pipeline = new Pipeline(this, config.name, {
        config,
        pipelinesFile,
        alarmTopic: this.alarmTopic,
        ...(this.deadLetterQueue ? { deadLetterQueue: this.deadLetterQueue.queue } : {}),
        namePrefix: settings.namePrefix,
        ...(network ? { placement: network } : {}),
        ...(settings.caBundle !== undefined ? { caBundle: settings.caBundle } : {}),
        runtime,
        memorySizes: { extractChunk: settings.extractMemoryMb, plan: settings.taskMemoryMb, apply: settings.taskMemoryMb, finalize: settings.taskMemoryMb, recordFailure: settings.taskMemoryMb },
        logRetention: settings.logRetentionDays as logs.RetentionDays,
        secretsKmsKeyArns: settings.secretsKmsKeyArns,
      });
      Tags.of(pipeline).add('pgferry:pipeline', config.name);
      pipelines[config.name] = pipeline;
    }
    this.pipelines = pipelines;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${settings.namePrefix}-${Aws.REGION}`,
      widgets: Object.values(pipelines).map((p) => [...p.dashboardWidgets]),
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${settings.namePrefix}-${Aws.REGION}`,
      description: 'Rows and durations of every pipeline',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topic.topicArn, description: 'Every pgferry alarm notifies this topic; subscribe to it' });
    if (this.deadLetterQueue) {
      new CfnOutput(this, 'ScheduleDeadLetterQueueUrl', { value: this.deadLetterQueue.queue.queueUrl, description: 'Schedule events EventBridge Scheduler could not deliver' });
    }
  }
}

/** Writes the bundled pipelines file into the cloud assembly, named by its content so identical configs share one asset. */
function writePipelinesFile(outdir: string, text: string): string {
  mkdirSync(outdir, { recursive: true });
  const file = join(outdir, `pgferry-pipelines-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`);
  writeFileSync(file, text);
  return file;
}

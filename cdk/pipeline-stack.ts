/**
 * The pgferry stack: the deployment's shared parts (the task functions and their roles, the state machine and
 * scheduler roles, log groups, alarm topic, dead-letter queue, cleanup rule, dashboard) and the pipelines,
 * spread over nested stacks by a hash of their names so that no template passes CloudFormation's 500
 * resources and a pipeline keeps its stack (and its state machine) as others are added.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, ArnFormat, Aws, CfnOutput, CfnResource, Fn, NestedStack, Stack, Stage, Tags, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import type { Construct, IConstruct } from 'constructs';
import { serializePipelines } from '../lib/aws/bundled-pipelines.ts';
import type { PipelineConfig, TablesFile } from '../lib/config/index.ts';
import { AlarmTopic } from './constructs/alarm-topic.ts';
import { CleanupRule } from './constructs/cleanup-rule.ts';
import { TableRunNotice } from './constructs/table-run-notice.ts';
import { Pipeline } from './constructs/pipeline.ts';
import { deploymentDashboardWidgets } from './constructs/pipeline-dashboard.ts';
import { ScheduleDeadLetterQueue } from './constructs/schedule-dead-letter-queue.ts';
import { TaskFunctions } from './constructs/task-functions.ts';
import { TaskNetwork } from './constructs/task-network.ts';
import type { DeploySettings } from './settings.ts';

/** CloudFormation's limit on the resources of one template (nested stacks have their own). */
export const MAX_RESOURCES_PER_TEMPLATE = 500;

/** CloudFormation's limit on a template's size (a nested stack's is uploaded to S3), in bytes. */
export const MAX_TEMPLATE_BYTES = 1_000_000;

/**
 * Pipelines one nested stack holds at most: each adds about 10 KB of template (its definition) and 4
 * resources, so 90 stay under 1 MB and 500 resources with room to spare.
 */
export const MAX_PIPELINES_PER_STACK = 90;

/** Properties of {@link PipelineStack}. */
export interface PipelineStackProps extends StackProps {
  /** The validated pipelines to deploy (at least one pipeline or file). */
  readonly pipelines: readonly PipelineConfig[];
  /** The validated files that list tables. @default none */
  readonly files?: readonly TablesFile[];
  /** Network, CA bundle, alarm e-mail, sizes... */
  readonly settings: DeploySettings;
}

/** The nested stack a pipeline lives in: a hash of its name, so it never depends on the other pipelines. */
export function pipelineStackIndex(pipeline: string, stacks: number): number {
  return Number.parseInt(createHash('sha256').update(pipeline).digest('hex').slice(0, 8), 16) % stacks;
}

/** Construct id of the nested stack with this index. */
export function pipelineStackId(index: number): string {
  return `Pipelines${String(index).padStart(2, '0')}`;
}

/** Every pipeline of one deployment. */
export class PipelineStack extends Stack {
  /** The pipelines' constructs, by pipeline name. */
  public readonly pipelines: Readonly<Record<string, Pipeline>>;
  /** The nested stacks that hold the pipelines, by construct id. */
  public readonly pipelineStacks: Readonly<Record<string, NestedStack>>;
  public readonly taskFunctions: TaskFunctions;
  public readonly stateMachineRole: iam.Role;
  public readonly scheduleRole?: iam.Role;
  public readonly alarmTopic: AlarmTopic;
  public readonly deadLetterQueue: ScheduleDeadLetterQueue;
  public readonly cleanupRule: CleanupRule;
  public readonly dashboard: cloudwatch.Dashboard;

  public constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, { description: 'pgferry: PostgreSQL table pipelines on Step Functions', ...props });
    const { settings } = props;
    const prefix = settings.namePrefix;
    const files = props.files ?? [];
    if (props.pipelines.length === 0 && files.length === 0)
      throw new Error('PipelineStack: pipelines is empty; add a pipeline file to the pipelines directory');

    const pipelinesFile = writePipelinesFile(Stage.of(this)?.outdir ?? '.', serializePipelines(props.pipelines, files));
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
    this.deadLetterQueue = new ScheduleDeadLetterQueue(this, 'ScheduleDeadLetterQueue', { alarmTopic: this.alarmTopic });
    const runtime = settings.lambdaRuntime === 'nodejs24.x' ? lambda.Runtime.NODEJS_24_X : lambda.Runtime.NODEJS_22_X;

    // ---- the task functions, shared by every pipeline ----
    this.taskFunctions = new TaskFunctions(this, 'TaskFunctions', {
      pipelines: props.pipelines,
      ...(files.length > 0 ? { files } : {}),
      pipelinesFile,
      namePrefix: prefix,
      alarmTopic: this.alarmTopic,
      deadLetterQueue: this.deadLetterQueue.queue,
      ...(network ? { placement: network } : {}),
      ...(settings.caBundle !== undefined ? { caBundle: settings.caBundle } : {}),
      runtime,
      memorySizes: {
        extractChunk: settings.extractMemoryMb,
        plan: settings.taskMemoryMb,
        apply: settings.taskMemoryMb,
        finalize: settings.taskMemoryMb,
        recordFailure: settings.taskMemoryMb,
        cleanup: settings.taskMemoryMb,
        tables: settings.taskMemoryMb,
        summarize: settings.taskMemoryMb,
      },
      ...(settings.reservedConcurrency ? { reservedConcurrency: settings.reservedConcurrency } : {}),
      logRetention: settings.logRetentionDays as logs.RetentionDays,
      secretsKmsKeyArns: settings.secretsKmsKeyArns,
    });
    const fns = this.taskFunctions.functions;
    const reservedExtract = settings.reservedConcurrency ? settings.reservedConcurrency.extractChunk : undefined;
    for (const config of props.pipelines) {
      if (reservedExtract !== undefined && config.source.options.max_parallel_chunks > reservedExtract) {
        Annotations.of(this).addWarningV2(
          `pgferry:parallel-over-reserved:${config.name}`,
          `pipeline ${config.name}: max_parallel_chunks ${config.source.options.max_parallel_chunks} is more than the ${reservedExtract} ExtractChunk functions that may run at once (reservedConcurrency.extractChunk); the rest wait as throttled retries. Raise reservedConcurrency.extractChunk in pgferry.settings.json or lower max_parallel_chunks.`,
        );
      }
    }

    // ---- what every state machine shares: its role and its log group ----
    const suffix = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
    const machineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy from growing with every state machine.
      logGroupName: `/aws/vendedlogs/states/${prefix}-${suffix}`,
      retention: settings.logRetentionDays as logs.RetentionDays,
    });
    const machines = this.formatArn({ service: 'states', resource: 'stateMachine', resourceName: `${prefix}-*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const executions = this.formatArn({ service: 'states', resource: 'execution', resourceName: `${prefix}-*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const fileFns = this.taskFunctions.fileFunctions;
    const invoked = [
      fns.plan,
      fns.extractChunk,
      fns.apply,
      fns.finalize,
      fns.recordFailure,
      ...(fileFns ? [fileFns.functions.tables, fileFns.functions.summarize] : []),
    ];
    this.stateMachineRole = new iam.Role(this, 'StateMachineRole', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: `pgferry: the role of every ${prefix}-* state machine`,
      // Inline, so it exists with the role: Step Functions checks the logging permissions when a state machine is created.
      inlinePolicies: {
        run: new iam.PolicyDocument({
          statements: [
            // Every version: an execution started before a deploy goes on invoking the versions it started with.
            new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: invoked.map((fn) => `${fn.functionArn}:*`) }),
            // The Distributed Map starts child executions of its own state machine and manages them.
            new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [machines] }),
            new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:StopExecution', 'states:RedriveExecution'], resources: [executions] }),
            // A file's machine waits for each table run (startExecution.sync) through this managed rule.
            ...(files.length > 0
              ? [
                  new iam.PolicyStatement({
                    actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
                    resources: [this.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForStepFunctionsExecutionRule' })],
                  }),
                ]
              : []),
            new iam.PolicyStatement({
              actions: [
                'logs:CreateLogDelivery',
                'logs:GetLogDelivery',
                'logs:UpdateLogDelivery',
                'logs:DeleteLogDelivery',
                'logs:ListLogDeliveries',
                'logs:PutResourcePolicy',
                'logs:DescribeResourcePolicies',
                'logs:DescribeLogGroups',
              ],
              resources: ['*'],
            }),
            new iam.PolicyStatement({
              actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
              resources: ['*'],
            }),
          ],
        }),
      },
    });
    NagSuppressions.addResourceSuppressions(this.stateMachineRole, [
      {
        id: 'AwsSolutions-IAM5',
        reason: `Resource * only for the CloudWatch Logs delivery actions and X-Ray, which support no resource-level permissions. The task functions are invoked by version (<function>:*), so a run goes on with the code it started on after a deploy. State machines and executions are named ${prefix}-<pipeline>[...] and named when they start, so they end in *; scoped to this deployment's prefix.`,
        appliesTo: ['Resource::*', { regex: '/^Resource::<.+\\.Arn>:\\*$/g' }, { regex: stateArnPattern(prefix) }],
      },
    ]);
    if (props.pipelines.some((p) => p.schedule) || files.some((f) => f.schedule)) {
      this.scheduleRole = new iam.Role(this, 'ScheduleRole', {
        assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } } }),
        description: `pgferry: EventBridge Scheduler starts the ${prefix}-* state machines with this role`,
        inlinePolicies: {
          start: new iam.PolicyDocument({
            statements: [
              new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [machines] }),
              new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetterQueue.queue.queueArn] }),
            ],
          }),
        },
      });
      NagSuppressions.addResourceSuppressions(this.scheduleRole, [
        {
          id: 'AwsSolutions-IAM5',
          reason: `The schedules start state machines named ${prefix}-<pipeline>: scoped to this deployment's prefix.`,
          appliesTo: [{ regex: stateArnPattern(prefix) }],
        },
      ]);
    }
    this.cleanupRule = new CleanupRule(this, 'Cleanup', { cleanup: fns.cleanup, namePrefix: prefix, deadLetterQueue: this.deadLetterQueue.queue });
    if (files.length > 0) new TableRunNotice(this, 'TableRunNotice', { namePrefix: prefix, alarmTopic: this.alarmTopic });

    // ---- the pipelines, in nested stacks ----
    const stacks: Record<string, NestedStack> = {};
    const pipelines: Record<string, Pipeline> = {};
    // A single-table pipeline deploys its config; a file that lists tables, its file and the Tables/Summarize versions.
    const units = [
      ...props.pipelines.map((config) => ({ name: config.name, own: { config } })),
      ...files.map((file) => ({ name: file.name, own: { file, ...(fileFns ? { fileVersions: fileFns.versions } : {}) } })),
    ];
    for (const { name, own } of units) {
      const stackId = pipelineStackId(pipelineStackIndex(name, settings.pipelineStacks));
      const nested = (stacks[stackId] ??= new NestedStack(this, stackId, { description: `pgferry pipelines (${stackId})` }));
      const pipeline = new Pipeline(nested, name, {
        ...own,
        namePrefix: prefix,
        versions: this.taskFunctions.versions,
        roleArn: this.stateMachineRole.roleArn,
        logGroup: machineLogs,
        alarmTopic: this.alarmTopic,
        ...(this.scheduleRole ? { schedule: { roleArn: this.scheduleRole.roleArn, deadLetterQueueArn: this.deadLetterQueue.queue.queueArn } } : {}),
      });
      Tags.of(pipeline).add('pgferry:pipeline', name);
      pipelines[name] = pipeline;
    }
    this.pipelines = pipelines;
    this.pipelineStacks = stacks;
    for (const stack of [this, ...Object.values(stacks)]) stack.node.addValidation({ validate: () => resourceLimitProblems(stack, settings.pipelineStacks) });
    // A file that lists tables weighs two: its machine and its table machine each carry a definition.
    const weight = (p: Pipeline): number => (p.tableMachine ? 2 : 1);
    const crowded = Object.entries(stacks).filter(
      ([, nested]) =>
        Object.values(pipelines)
          .filter((p) => Stack.of(p) === nested)
          .reduce((sum, p) => sum + weight(p), 0) > MAX_PIPELINES_PER_STACK,
    );
    if (crowded.length > 0) {
      throw new Error(
        `${crowded.map(([id]) => id).join(', ')} would hold more than ${MAX_PIPELINES_PER_STACK} pipelines (about ${MAX_PIPELINES_PER_STACK * 10} KB of its 1 MB template): spread them over more nested stacks with pipelineStacks in pgferry.settings.json (now ${settings.pipelineStacks}); set it before the first deploy, since changing it moves pipelines between stacks`,
      );
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${prefix}-${Aws.REGION}`,
      widgets: deploymentDashboardWidgets(prefix, fns),
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${prefix}-${Aws.REGION}`,
      description: 'Rows and durations of every pipeline',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topic.topicArn, description: 'Every pgferry alarm notifies this topic; subscribe to it' });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: this.deadLetterQueue.queue.queueUrl,
      description: 'Schedule and cleanup events that could not be delivered',
    });
    new CfnOutput(this, 'TaskLogGroup', {
      value: this.taskFunctions.logGroup.logGroupName,
      description: 'Logs of every task Lambda (filter on pipeline and runId)',
    });
    new CfnOutput(this, 'StateMachineLogGroup', { value: machineLogs.logGroupName, description: 'Execution logs of every state machine' });
  }
}

/** cdk-nag `appliesTo` for `arn:...:states:...:(stateMachine|execution):<prefix>-*`, as a token (no account) or a literal (with one). */
function stateArnPattern(prefix: string): string {
  return `/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):(stateMachine|execution):${prefix}-\\*$/g`;
}

/** A synth error when a template would pass CloudFormation's resource limit, with the fix. */
function resourceLimitProblems(stack: Stack, stacks: number): string[] {
  const count = stack.node.findAll().filter((c: IConstruct) => CfnResource.isCfnResource(c) && Stack.of(c) === stack).length;
  if (count <= MAX_RESOURCES_PER_TEMPLATE) return [];
  return [
    `${stack.node.path} has ${count} resources, over CloudFormation's ${MAX_RESOURCES_PER_TEMPLATE}: spread the pipelines over more nested stacks (pipelineStacks in pgferry.settings.json, now ${stacks}; set it before the first deploy, since changing it moves pipelines between stacks)`,
  ];
}

/** Writes the bundled pipelines file into the cloud assembly, named by its content so identical configs share one asset. */
function writePipelinesFile(outdir: string, text: string): string {
  mkdirSync(outdir, { recursive: true });
  const file = join(outdir, `pgferry-pipelines-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`);
  writeFileSync(file, text);
  return file;
}

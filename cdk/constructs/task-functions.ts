/**
 * The task Lambdas of a deployment, one per task and shared by every pipeline: each with its own role that
 * may read exactly the secrets its task opens (across every pipeline), a published version per deploy (the
 * state machines invoke versions, so a run finishes on the code it started on), reserved concurrency, one
 * log group, and an alarm when a task's duration nears the function timeout.
 */
import { Aws, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { ConnectionConfig, PipelineConfig, TablesFile } from '../../lib/config/index.ts';
import {
  FILE_FUNCTION_KEYS,
  FILE_TASK_CONNECTIONS,
  FUNCTION_KEYS,
  LAMBDA_TIMEOUT_SECONDS,
  TASK_CONNECTIONS,
  type FileFunctionKey,
  type FunctionKey,
} from '../../lib/workflow/definition.ts';
import type { AlarmTopic } from './alarm-topic.ts';
import { secretResourceArn } from './secret-arns.ts';
import { TaskFunction, type TaskPlacement } from './task-function.ts';

/** A task duration above this share of the function timeout alarms: the next one may hit the wall. */
export const DURATION_ALARM_SHARE = 0.8;

/** Secret ARNs per policy statement: about 5,000 characters, under a managed policy's 6,144. */
const SECRETS_PER_STATEMENT = 60;

/** Properties of {@link TaskFunctions}. */
export interface TaskFunctionsProps {
  /** Every pipeline of the deployment (their connections decide each role's secrets). */
  readonly pipelines: readonly PipelineConfig[];
  /** Every file that lists tables: their connections count too, and they add the Tables and Summarize functions. @default none */
  readonly files?: readonly TablesFile[];
  /** The bundled pipelines file shipped in every function's asset. */
  readonly pipelinesFile: string;
  /** State machines are `<namePrefix>-<pipeline>`. @default 'pgferry' */
  readonly namePrefix?: string;
  /** Notified when a task's duration nears the timeout. */
  readonly alarmTopic: AlarmTopic;
  /** Where the cleanup's failed asynchronous invocations go. */
  readonly deadLetterQueue: sqs.IQueue;
  /** @default outside any VPC */
  readonly placement?: TaskPlacement;
  /** @default the runtime's CA file */
  readonly caBundle?: string;
  /** @default NODEJS_22_X */
  readonly runtime?: lambda.Runtime;
  /** @default TASK_MEMORY_DEFAULTS */
  readonly memorySizes?: Partial<Record<FunctionKey | FileFunctionKey, number>>;
  /** @default none reserved */
  readonly reservedConcurrency?: Readonly<Record<FunctionKey, number>>;
  /** @default three months */
  readonly logRetention?: logs.RetentionDays;
  /** Customer-managed KMS keys of the connection secrets. @default none */
  readonly secretsKmsKeyArns?: readonly string[];
}

/** The deployment's task functions. */
export class TaskFunctions extends Construct {
  /** The functions, by task. */
  public readonly functions: Readonly<Record<FunctionKey, lambda.Function>>;
  /** The version of each function this deploy publishes: what the state machines invoke. */
  public readonly versions: Readonly<Record<FunctionKey, lambda.IVersion>>;
  /** The execution role of each function. */
  public readonly roles: Readonly<Record<FunctionKey, iam.Role>>;
  /** Tables and Summarize, with a file that lists tables: their functions, versions and roles. @default none */
  public readonly fileFunctions?: {
    readonly functions: Readonly<Record<FileFunctionKey, lambda.Function>>;
    readonly versions: Readonly<Record<FileFunctionKey, lambda.IVersion>>;
    readonly roles: Readonly<Record<FileFunctionKey, iam.Role>>;
  };
  public readonly logGroup: logs.LogGroup;
  /** One alarm per function: its longest duration above {@link DURATION_ALARM_SHARE} of the timeout. */
  public readonly durationAlarms: readonly cloudwatch.Alarm[];

  public constructor(scope: Construct, id: string, props: TaskFunctionsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const prefix = props.namePrefix ?? 'pgferry';
    // Unique per stack instance, so a retained log group never blocks re-creating the stack.
    const suffix = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/pgferry/${prefix}/tasks-${suffix}`,
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
    });

    const functions = {} as Record<FunctionKey | FileFunctionKey, lambda.Function>;
    const versions = {} as Record<FunctionKey | FileFunctionKey, lambda.IVersion>;
    const roles = {} as Record<FunctionKey | FileFunctionKey, iam.Role>;
    const durationAlarms: cloudwatch.Alarm[] = [];
    const files = props.files ?? [];
    const holders = [...props.pipelines, ...files];
    for (const task of [...FUNCTION_KEYS, ...(files.length > 0 ? FILE_FUNCTION_KEYS : [])]) {
      const connections = connectionsOfTask(task);
      const role = new iam.Role(this, `${pascal(task)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description:
          connections.length > 0
            ? `pgferry ${task} task: reads the ${connections.join(', ')} secrets of every pipeline`
            : `pgferry ${task} task: opens no connection`,
      });
      this.logGroup.grantWrite(role);
      const secrets = taskSecretArns(stack, holders, task);
      // In statements of at most SECRETS_PER_STATEMENT, so that CDK can spread a long list over managed policies
      // (6,144 characters each); one statement cannot be split.
      for (let i = 0; i < secrets.length; i += SECRETS_PER_STATEMENT) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets.slice(i, i + SECRETS_PER_STATEMENT) }),
        );
      }
      if (props.secretsKmsKeyArns && props.secretsKmsKeyArns.length > 0) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['kms:Decrypt'],
            resources: [...props.secretsKmsKeyArns],
            conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` } },
          }),
        );
      }
      if (props.placement) {
        // What AWSLambdaVPCAccessExecutionRole grants: Lambda manages the function's network interfaces with these.
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: [
              'ec2:CreateNetworkInterface',
              'ec2:DescribeNetworkInterfaces',
              'ec2:DescribeSubnets',
              'ec2:DeleteNetworkInterface',
              'ec2:AssignPrivateIpAddresses',
              'ec2:UnassignPrivateIpAddresses',
            ],
            resources: ['*'],
          }),
        );
      }
      const memorySize = (props.memorySizes as Partial<Record<string, number>> | undefined)?.[task];
      const reserved = (props.reservedConcurrency as Partial<Record<string, number>> | undefined)?.[task];
      const fn = new TaskFunction(this, pascal(task), {
        task,
        namePrefix: prefix,
        pipelinesFile: props.pipelinesFile,
        role,
        logGroup: this.logGroup,
        ...(props.placement ? { placement: props.placement } : {}),
        ...(props.caBundle !== undefined ? { caBundle: props.caBundle } : {}),
        ...(props.runtime ? { runtime: props.runtime } : {}),
        ...(memorySize !== undefined ? { memorySize } : {}),
        ...(reserved !== undefined ? { reservedConcurrency: reserved } : {}),
        ...(task === 'cleanup' ? { deadLetterQueue: props.deadLetterQueue } : {}),
      }).function;
      NagSuppressions.addResourceSuppressions(
        role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              'Resource * only for actions that support no resource-level permissions: X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) and the EC2 network-interface actions Lambda needs to run in the VPC. Secrets are named one by one; the -?????? suffix is the random part Secrets Manager appends to a secret name.',
            appliesTo: ['Resource::*', { regex: '/^Resource::arn:.*:secretsmanager:.*:secret:.*-\\?\\?\\?\\?\\?\\?$/g' }],
          },
        ],
        true,
      );
      functions[task] = fn;
      versions[task] = fn.currentVersion;
      roles[task] = role;
      const alarm = new cloudwatch.Alarm(this, `${pascal(task)}DurationAlarm`, {
        alarmDescription: `pgferry ${task} task: an invocation ran longer than ${Math.round(DURATION_ALARM_SHARE * 100)}% of its ${LAMBDA_TIMEOUT_SECONDS} s timeout; the next may hit it. Lower chunk_rows (ExtractChunk) or see docs/deploy-aws.md.`,
        metric: fn.metricDuration({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: DURATION_ALARM_SHARE * LAMBDA_TIMEOUT_SECONDS * 1000,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      props.alarmTopic.notify(alarm, { ok: false });
      durationAlarms.push(alarm);
    }
    this.functions = functions;
    this.versions = versions;
    this.roles = roles;
    if (files.length > 0) this.fileFunctions = { functions, versions, roles };
    this.durationAlarms = durationAlarms;
  }
}

/** The connections a task opens (TASK_CONNECTIONS, FILE_TASK_CONNECTIONS). */
function connectionsOfTask(task: FunctionKey | FileFunctionKey): readonly ('source' | 'sink' | 'state')[] {
  return task === 'tables' || task === 'summarize' ? FILE_TASK_CONNECTIONS[task] : TASK_CONNECTIONS[task];
}

/** Every secret the task opens across the pipelines and files (its connections), deduplicated and sorted, so the policy is stable. */
export function taskSecretArns(
  stack: Stack,
  pipelines: readonly { readonly source: ConnectionConfig; readonly sink: ConnectionConfig; readonly state: ConnectionConfig }[],
  task: FunctionKey | FileFunctionKey,
): string[] {
  const ids = new Set<string>();
  for (const config of pipelines) {
    for (const key of connectionsOfTask(task)) {
      const connection = config[key];
      if (connection.connection_type === 'secretsmanager') ids.add(connection.connection_id);
    }
  }
  return [...ids].sort().map((id) => secretResourceArn(stack, id));
}

/** `extractChunk` -> `ExtractChunk`: construct ids as the state names spell them. */
function pascal(task: string): string {
  return task.charAt(0).toUpperCase() + task.slice(1);
}

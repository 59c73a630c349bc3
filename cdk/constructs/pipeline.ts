/**
 * One pipeline on AWS: its five task Lambdas, the state machine built by THE definition function of
 * lib/ (the one the local runner executes), its EventBridge Scheduler schedule, its alarms and its
 * dashboard row.
 */
import { ArnFormat, Aws, CfnOutput, Duration, Fn, Stack, TimeZone } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { PipelineConfig } from '../../lib/config/index.ts';
import { buildDefinition, TaskStates, type TaskKey, type TaskResources } from '../../lib/workflow/definition.ts';
import type { AlarmTopic } from './alarm-topic.ts';
import { pipelineDashboardRow } from './pipeline-dashboard.ts';
import { pipelineSecretArns } from './secret-arns.ts';
import { TaskFunction, type TaskPlacement } from './task-function.ts';

/** Properties of {@link Pipeline}. */
export interface PipelineProps {
  /** The validated pipeline. */
  readonly config: PipelineConfig;
  /** The bundled pipelines file shipped in the task Lambdas' assets. */
  readonly pipelinesFile: string;
  /** Notified by the pipeline's alarms. */
  readonly alarmTopic: AlarmTopic;
  /** Dead-letter queue of the schedule; required when the pipeline has a schedule. @default none */
  readonly deadLetterQueue?: sqs.IQueue;
  /** The state machine is named `<namePrefix>-<pipeline>`. @default 'pgferry' */
  readonly namePrefix?: string;
  /** VPC placement of the task Lambdas. @default outside any VPC */
  readonly placement?: TaskPlacement;
  /** RDS CA bundle shipped in the task Lambdas. @default the runtime's CA file */
  readonly caBundle?: string;
  /** Node.js 22 or newer. @default NODEJS_22_X */
  readonly runtime?: lambda.Runtime;
  /** Memory of each task in MB. @default TASK_MEMORY_DEFAULTS */
  readonly memorySizes?: Partial<Record<TaskKey, number>>;
  /** Retention of the pipeline's log groups. @default three months */
  readonly logRetention?: logs.RetentionDays;
  /** Customer-managed KMS keys of the connection secrets. @default none */
  readonly secretsKmsKeyArns?: readonly string[];
  /** Attempts of EventBridge Scheduler to start the state machine before the event goes to the dead-letter queue. @default 3 */
  readonly scheduleRetryAttempts?: number;
  /** How long a schedule's event may wait for a successful start. @default 1 hour */
  readonly scheduleMaxEventAge?: Duration;
}

/** Everything one pipeline deploys. */
export class Pipeline extends Construct {
  /** `<namePrefix>-<pipeline>`: what `pgferry start` and the console show. */
  public readonly stateMachineName: string;
  public readonly stateMachine: sfn.StateMachine;
  /** The task Lambdas, by task. */
  public readonly functions: Readonly<Record<TaskKey, lambda.IFunction>>;
  public readonly schedule?: scheduler.Schedule;
  public readonly alarms: readonly cloudwatch.Alarm[];
  /** The pipeline's row of the dashboard. */
  public readonly dashboardWidgets: readonly cloudwatch.IWidget[];

  public constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const { config } = props;
    const stack = Stack.of(this);
    this.stateMachineName = `${props.namePrefix ?? 'pgferry'}-${config.name}`;
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(this.stateMachineName)) {
      throw new Error(`Pipeline ${config.name}: state machine name ${this.stateMachineName} is invalid; Step Functions allows 80 letters, digits, - and _: shorten namePrefix or the pipeline name`);
    }
    if (config.schedule && props.deadLetterQueue === undefined) {
      throw new Error(`Pipeline ${config.name}: it has a schedule (${config.schedule.expression}) but no deadLetterQueue; pass one so undelivered schedule events are kept`);
    }
    const retryAttempts = props.scheduleRetryAttempts ?? 3;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 185) {
      throw new Error(`Pipeline ${config.name}: scheduleRetryAttempts ${retryAttempts} is out of range; EventBridge Scheduler accepts 0 to 185`);
    }
    const retention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    // Unique per stack instance, so a retained log group never blocks re-creating the stack.
    const suffix = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));

    // ---- task Lambdas: one role and one log group for the pipeline's five functions ----
    const taskLogs = new logs.LogGroup(this, 'TaskLogs', { logGroupName: `/pgferry/${this.stateMachineName}/tasks-${suffix}`, retention });
    const taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `pgferry task Lambdas of pipeline ${config.name}`,
    });
    taskLogs.grantWrite(taskRole);
    taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: pipelineSecretArns(stack, config) }));
    if (props.secretsKmsKeyArns && props.secretsKmsKeyArns.length > 0) {
      taskRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [...props.secretsKmsKeyArns],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` } },
        }),
      );
    }
    if (props.placement) {
      // What AWSLambdaVPCAccessExecutionRole grants: Lambda manages the function's network interfaces with these.
      taskRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
          resources: ['*'],
        }),
      );
    }
    const functions = {} as Record<TaskKey, lambda.IFunction>;
    for (const task of Object.keys(TaskStates) as TaskKey[]) {
      const memorySize = props.memorySizes?.[task];
      functions[task] = new TaskFunction(this, TaskStates[task], {
        task,
        pipelines: [config.name],
        pipelinesFile: props.pipelinesFile,
        role: taskRole,
        logGroup: taskLogs,
        ...(props.placement ? { placement: props.placement } : {}),
        ...(props.caBundle !== undefined ? { caBundle: props.caBundle } : {}),
        ...(props.runtime ? { runtime: props.runtime } : {}),
        ...(memorySize !== undefined ? { memorySize } : {}),
      }).function;
    }
    this.functions = functions;
    NagSuppressions.addResourceSuppressions(
      taskRole,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: 'Resource * only for actions that support no resource-level permissions: X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) and the EC2 network-interface actions Lambda needs to run in the VPC. Secrets are named one by one; the -?????? suffix is the random part Secrets Manager appends to a secret name.',
          appliesTo: ['Resource::*', { regex: '/^Resource::arn:.*:secretsmanager:.*:secret:.*-\\?\\?\\?\\?\\?\\?$/g' }],
        },
      ],
      true,
    );

    // ---- state machine: THE definition, with this pipeline's Lambda ARNs ----
    const resources: TaskResources = {
      plan: functions.plan.functionArn,
      extractChunk: functions.extractChunk.functionArn,
      apply: functions.apply.functionArn,
      finalize: functions.finalize.functionArn,
      recordFailure: functions.recordFailure.functionArn,
    };
    const definition = buildDefinition(config, resources);
    const machineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy from growing with every state machine.
      logGroupName: `/aws/vendedlogs/states/${this.stateMachineName}-${suffix}`,
      retention,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(stack.toJsonString(definition)),
      logs: { destination: machineLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      comment: `pgferry pipeline ${config.name}`,
    });
    const role = this.stateMachine.role;
    // Invokes its own functions only, unqualified, exactly as the definition names them.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: Object.values(resources) }));
    // The Distributed Map starts child executions of this state machine and manages them. The ARNs are
    // built from the name, not the resource's attribute, which would make the role depend on the state machine it serves.
    const machineArn = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: this.stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const executionArn = (rest: string): string =>
      stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${this.stateMachineName}${rest}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [machineArn] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [executionArn(':*'), executionArn('/*')] }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:RedriveExecution'], resources: [executionArn('/*')] }));
    NagSuppressions.addResourceSuppressions(
      role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: 'Resource * only for the CloudWatch Logs delivery actions (logging to a log group) and X-Ray, which support no resource-level permissions. The execution ARNs end in * because executions (and the Distributed Map\'s child executions) are named when they start; they are scoped to this one state machine.',
          appliesTo: ['Resource::*', { regex: `/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${this.stateMachineName}[:/]\\*$/g` }],
        },
      ],
      true,
    );

    // ---- schedule ----
    if (config.schedule && props.deadLetterQueue) {
      this.schedule = new scheduler.Schedule(this, 'Schedule', {
        description: `pgferry pipeline ${config.name}: starts ${this.stateMachineName}`,
        schedule: scheduler.ScheduleExpression.expression(config.schedule.expression, TimeZone.of(config.schedule.timezone)),
        enabled: config.schedule.enabled,
        target: new targets.StepFunctionsStartExecution(this.stateMachine, {
          // The one input a scheduled run accepts: a normal (non-full-refresh) run.
          input: scheduler.ScheduleTargetInput.fromObject({}),
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts,
          maxEventAge: props.scheduleMaxEventAge ?? Duration.hours(1),
        }),
      });
    }

    // ---- alarms and dashboard ----
    const period = Duration.minutes(5);
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, what: string): cloudwatch.Alarm => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: `pgferry pipeline ${config.name}: ${what}. See the execution in the Step Functions console (${this.stateMachineName}) and the run in the state database.`,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      props.alarmTopic.notify(a);
      return a;
    };
    this.alarms = [
      alarm('ExecutionsFailedAlarm', this.stateMachine.metricFailed({ period, statistic: 'Sum' }), 'an execution failed'),
      alarm('ExecutionsTimedOutAlarm', this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }), 'an execution timed out'),
    ];
    this.dashboardWidgets = pipelineDashboardRow(config.name, this.stateMachine);

    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn, description: `pgferry pipeline ${config.name}` });
    new CfnOutput(this, 'TaskLogGroup', { value: taskLogs.logGroupName, description: `Logs of the task Lambdas of pipeline ${config.name}` });
  }
}

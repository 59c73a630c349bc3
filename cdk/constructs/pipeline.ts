/**
 * What one pipeline deploys of its own: the state machine built by THE definition function of lib/ (the one
 * the local runner executes) with the deployment's task function versions as resources, its EventBridge
 * Scheduler schedule, its failure alarm and its freshness alarm. Everything else (task functions, roles,
 * log groups, queue, topic, dashboard, cleanup rule) is shared by the deployment.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Metrics } from '../../lib/aws/constants.ts';
import type { PipelineConfig, TablesFile } from '../../lib/config/index.ts';
import { TABLE_MACHINE_SUFFIX } from '../../lib/workflow/tasks/cleanup.ts';
import {
  buildDefinition,
  buildFileDefinition,
  buildTableDefinition,
  type FileFunctionKey,
  type TaskKey,
  type TaskResources,
} from '../../lib/workflow/definition.ts';
import { freshnessWindow, maxStalenessMs } from '../staleness.ts';
import type { AlarmTopic } from './alarm-topic.ts';

/** Names a state machine may have in Step Functions. */
const STATE_MACHINE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** What the schedules of a deployment share. */
export interface ScheduleTargetSettings {
  /** Role EventBridge Scheduler assumes to start the state machines. */
  readonly roleArn: string;
  /** Where undelivered schedule events go. */
  readonly deadLetterQueueArn: string;
  /** Attempts to start the state machine before the event goes to the dead-letter queue. @default 3 */
  readonly retryAttempts?: number;
  /** How long an event may wait for a successful start. @default 1 hour */
  readonly maxEventAge?: Duration;
}

/** Properties of {@link Pipeline}. */
export interface PipelineProps {
  /** The validated pipeline; or `file`. */
  readonly config?: PipelineConfig;
  /**
   * A file that lists tables, instead of `config`: its machine `<namePrefix>-<file>` (Tables, the table runs,
   * Summarize) and its table machine `<namePrefix>-<file>-Tables`; schedule and alarms are the file machine's.
   */
  readonly file?: TablesFile;
  /** The published versions of the Tables and Summarize functions; required with `file`. */
  readonly fileVersions?: Readonly<Record<FileFunctionKey, lambda.IVersion>>;
  /** The state machine is named `<namePrefix>-<pipeline>`. @default 'pgferry' */
  readonly namePrefix?: string;
  /** The published version of each task function: the definition invokes these, never `$LATEST`. */
  readonly versions: Readonly<Record<TaskKey, lambda.IVersion>>;
  /** The deployment's state machine role (it may invoke every version of the task functions). */
  readonly roleArn: string;
  /** The deployment's state machine log group. */
  readonly logGroup: logs.ILogGroup;
  /** Notified by the pipeline's alarms. */
  readonly alarmTopic: AlarmTopic;
  /** Required when the pipeline has a schedule. @default none */
  readonly schedule?: ScheduleTargetSettings;
}

/** One pipeline's own resources. */
export class Pipeline extends Construct {
  /** `<namePrefix>-<pipeline>`: what `pgferry start` and the console show. */
  public readonly stateMachineName: string;
  public readonly stateMachine: sfn.StateMachine;
  public readonly schedule?: scheduler.CfnSchedule;
  /** Failed or timed-out executions; notifies once per failure, never with an OK. */
  public readonly failureAlarm: cloudwatch.Alarm;
  /** No successful run within `schedule.max_staleness`; absent without a schedule (or for `at(...)` without max_staleness). */
  public readonly freshnessAlarm?: cloudwatch.Alarm;
  /** The resources the state machine invokes, by task: version ARNs. */
  public readonly resources: TaskResources;
  /** A file's table machine (`<namePrefix>-<file>-Tables`): one execution per table run. */
  public readonly tableMachine?: sfn.StateMachine;

  public constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const unit = props.config ?? props.file;
    if (!unit || (props.config && props.file)) throw new Error(`Pipeline ${id}: give exactly one of config and file`);
    const config = { name: unit.name, ...(unit.schedule ? { schedule: unit.schedule } : {}) };
    this.stateMachineName = `${props.namePrefix ?? 'pgferry'}-${config.name}`;
    if (!STATE_MACHINE_NAME.test(this.stateMachineName)) {
      throw new Error(
        `Pipeline ${config.name}: state machine name ${this.stateMachineName} is invalid; Step Functions allows 80 letters, digits, - and _: shorten namePrefix or the pipeline name`,
      );
    }
    if (config.schedule && props.schedule === undefined) {
      throw new Error(
        `Pipeline ${config.name}: it has a schedule (${config.schedule.expression}) but no schedule settings; pass the scheduler role and dead-letter queue`,
      );
    }
    const retryAttempts = props.schedule?.retryAttempts ?? 3;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 185) {
      throw new Error(`Pipeline ${config.name}: scheduleRetryAttempts ${retryAttempts} is out of range; EventBridge Scheduler accepts 0 to 185`);
    }

    // ---- state machine: THE definition, invoking the task functions' published versions ----
    this.resources = {
      plan: props.versions.plan.functionArn,
      extractChunk: props.versions.extractChunk.functionArn,
      apply: props.versions.apply.functionArn,
      finalize: props.versions.finalize.functionArn,
      recordFailure: props.versions.recordFailure.functionArn,
    };
    const role = iam.Role.fromRoleArn(this, 'Role', props.roleArn, { mutable: false });
    let definition: Record<string, unknown>;
    if (props.file) {
      if (!props.fileVersions) throw new Error(`Pipeline ${config.name}: a file that lists tables needs the Tables and Summarize function versions`);
      // Upper case: no pipeline name (lower case) can make this name, so it never collides with a pipeline's machine.
      this.tableMachine = new sfn.StateMachine(this, 'TableMachine', {
        stateMachineName: `${this.stateMachineName}${TABLE_MACHINE_SUFFIX}`,
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromString(Stack.of(this).toJsonString(buildTableDefinition(config.name, this.resources))),
        role,
        logs: { destination: props.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
        tracingEnabled: true,
        comment: `pgferry pipeline ${config.name}: one table's run`,
      });
      definition = buildFileDefinition(props.file, {
        tables: props.fileVersions.tables.functionArn,
        summarize: props.fileVersions.summarize.functionArn,
        tableMachine: this.tableMachine.stateMachineArn,
      });
    } else {
      definition = buildDefinition(props.config as PipelineConfig, this.resources);
    }
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(Stack.of(this).toJsonString(definition)),
      // The deployment's role, imported immutable: its policy is written once, not grown by every state machine.
      role,
      logs: { destination: props.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      comment: `pgferry pipeline ${config.name}`,
    });

    // ---- schedule ----
    if (config.schedule && props.schedule) {
      this.schedule = new scheduler.CfnSchedule(this, 'Schedule', {
        description: `pgferry pipeline ${config.name}: starts ${this.stateMachineName}`,
        scheduleExpression: config.schedule.expression,
        scheduleExpressionTimezone: config.schedule.timezone,
        state: config.schedule.enabled ? 'ENABLED' : 'DISABLED',
        flexibleTimeWindow: { mode: 'OFF' },
        target: {
          arn: this.stateMachine.stateMachineArn,
          roleArn: props.schedule.roleArn,
          // The one input a scheduled run accepts: a normal (non-full-refresh) run.
          input: '{}',
          retryPolicy: { maximumRetryAttempts: retryAttempts, maximumEventAgeInSeconds: (props.schedule.maxEventAge ?? Duration.hours(1)).toSeconds() },
          deadLetterConfig: { arn: props.schedule.deadLetterQueueArn },
        },
      });
    }

    // ---- alarms ----
    const described = `See the execution in the Step Functions console (${this.stateMachineName}) and the run in the state database (docs/deploy-aws.md, triage).`;
    const period = Duration.minutes(5);
    this.failureAlarm = new cloudwatch.Alarm(this, 'FailureAlarm', {
      alarmDescription: `pgferry pipeline ${config.name}: an execution failed or timed out. ${described}`,
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(failed, 0) + FILL(timedOut, 0)',
        usingMetrics: {
          failed: this.stateMachine.metricFailed({ period, statistic: 'Sum' }),
          timedOut: this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
        },
        period,
        label: 'failed or timed-out executions',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    props.alarmTopic.notify(this.failureAlarm, { ok: false });

    const staleness = maxStalenessMs(config.schedule);
    if (staleness !== undefined && config.schedule) {
      const { periodSeconds, evaluationPeriods } = freshnessWindow(staleness);
      this.freshnessAlarm = new cloudwatch.Alarm(this, 'FreshnessAlarm', {
        alarmDescription: `pgferry pipeline ${config.name}: no successful run for ${Math.round(staleness / 60_000)} minutes (schedule.max_staleness). ${described}`,
        metric: new cloudwatch.Metric({
          namespace: Metrics.namespace,
          metricName: Metrics.names.runsSucceeded,
          // The task Lambdas' service is the deployment's namePrefix, so another deployment's runs never count here.
          dimensionsMap: { service: props.namePrefix ?? Metrics.service, [Metrics.dimension]: config.name },
          statistic: 'Sum',
          period: Duration.seconds(periodSeconds),
        }),
        threshold: 1,
        evaluationPeriods,
        datapointsToAlarm: evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        // No run at all is the staleness this alarm is for.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        // A disabled schedule runs nothing on purpose (e.g. the first deploy): the alarm exists but stays quiet.
        actionsEnabled: config.schedule.enabled,
      });
      props.alarmTopic.notify(this.freshnessAlarm);
    }
  }
}

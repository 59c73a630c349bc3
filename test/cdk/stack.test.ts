import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { RESERVED_CONCURRENCY_DEFAULTS } from '../../cdk/settings.ts';
import { awsPipelineYaml, pipelinesDir, pipelineTemplate, synthesize, tempDir, versionTasks, type Synthesized } from './helpers.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const ORDERS_TARGET_ARN = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:dwh/warehouse-AbC123';

/** The root template and every nested one. */
function templates(s: Synthesized): Template[] {
  return [s.template, ...Object.values(s.stack.pipelineStacks).map((n) => Template.fromStack(n))];
}

function resources(s: Synthesized, type: string): [string, Resource][] {
  return templates(s).flatMap((t) => Object.entries(t.findResources(type)) as [string, Resource][]);
}

/** Every IAM statement of the root stack: policies, managed policies and inline role policies. */
function statements(s: Synthesized): (Statement & { owner: string })[] {
  const out: (Statement & { owner: string })[] = [];
  for (const [id, r] of Object.entries(s.template.toJSON().Resources) as [string, Resource][]) {
    const docs =
      r.Type === 'AWS::IAM::Role'
        ? ((r.Properties.Policies ?? []) as { PolicyDocument: unknown }[]).map((p) => p.PolicyDocument)
        : r.Type.startsWith('AWS::IAM::') && r.Properties.PolicyDocument
          ? [r.Properties.PolicyDocument]
          : [];
    const owner = r.Type === 'AWS::IAM::Role' ? id : JSON.stringify(r.Properties.Roles ?? '');
    for (const doc of docs) for (const st of (doc as { Statement: Statement[] }).Statement) out.push({ ...st, owner });
  }
  return out;
}

function actions(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** cdk-nag's findings in the root stack and its nested stacks (whose annotations the root's artifact carries). */
function nagFindings(s: Synthesized): string[] {
  const annotations = Annotations.fromStack(s.stack);
  return [
    ...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].map((m) => `${m.id}: ${String(m.entry.data)}`);
}

/** The secrets (as rendered text) the role of a task function may read. */
function secretsOf(s: Synthesized, task: keyof Synthesized['stack']['taskFunctions']['roles']): string {
  const roleId = s.stack.getLogicalId(s.stack.taskFunctions.roles[task].node.defaultChild as never);
  return statements(s)
    .filter((st) => st.owner.includes(roleId) && actions(st).includes('secretsmanager:GetSecretValue'))
    .map((st) => JSON.stringify(st.Resource))
    .join(' ');
}

const THREE = {
  'orders.yaml': awsPipelineYaml('orders', {
    schedule: 'cron(0/15 * * * ? *)',
    timezone: 'Europe/Berlin',
    source: 'orders_oltp',
    target: ORDERS_TARGET_ARN,
    parallel: 6,
  }),
  'customers.yaml': awsPipelineYaml('customers', { source: 'rds!db-0123abcd', target: 'dwh' }),
  'events.yaml': awsPipelineYaml('events', { schedule: 'rate(1 hour)', enabled: false }),
};

describe('Stack: three pipelines in a VPC', () => {
  let s: Synthesized;

  beforeAll(async () => {
    s = await synthesize({
      pipelinesDir: pipelinesDir(THREE),
      vpcId: 'vpc-0a1b2c3d',
      subnetIds: 'subnet-0aaa1111,subnet-0bbb2222',
      securityGroupIds: 'sg-0123abcd',
    });
  });

  it('deploys one state machine per pipeline, named <prefix>-<pipeline>, in the nested stacks', () => {
    s.template.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    const names = resources(s, 'AWS::StepFunctions::StateMachine')
      .map(([, r]) => r.Properties.StateMachineName)
      .sort();
    expect(names).toEqual(['pgferry-customers', 'pgferry-events', 'pgferry-orders']);
  });

  it('gives each pipeline only its state machine, its schedule and its alarms', () => {
    for (const name of ['orders', 'customers', 'events']) {
      const { template } = pipelineTemplate(s, name);
      const own = Object.entries(template.toJSON().Resources as Record<string, Resource>).filter(([id]) => id.startsWith(name));
      const types = own.map(([, r]) => r.Type).sort();
      const scheduled = name !== 'customers';
      expect(types).toEqual(
        ['AWS::CloudWatch::Alarm', ...(scheduled ? ['AWS::CloudWatch::Alarm', 'AWS::Scheduler::Schedule'] : []), 'AWS::StepFunctions::StateMachine'].sort(),
      );
    }
  });

  it('deploys one schedule per pipeline that has one, with its expression, time zone, state and dead-letter queue', () => {
    const schedules = resources(s, 'AWS::Scheduler::Schedule').map(([, r]) => r.Properties);
    expect(schedules).toHaveLength(2);
    const orders = schedules.find((p) => p.ScheduleExpression === 'cron(0/15 * * * ? *)')!;
    const ordersMachine = pipelineTemplate(s, 'orders').stack.getLogicalId(s.stack.pipelines.orders!.stateMachine.node.defaultChild as never);
    expect(orders).toMatchObject({
      ScheduleExpressionTimezone: 'Europe/Berlin',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: { Ref: ordersMachine }, Input: '{}', RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 } },
    });
    expect(JSON.stringify((orders.Target as { DeadLetterConfig: unknown }).DeadLetterConfig)).toMatch(/ScheduleDeadLetterQueue/);
    expect(JSON.stringify((orders.Target as { RoleArn: unknown }).RoleArn)).toMatch(/ScheduleRole/);
    expect(schedules.find((p) => p.ScheduleExpression === 'rate(1 hour)')).toMatchObject({ ScheduleExpressionTimezone: 'UTC', State: 'DISABLED' });
  });

  it('logs every state machine at level ALL with execution data into one log group, and traces it with X-Ray', () => {
    for (const [, machine] of resources(s, 'AWS::StepFunctions::StateMachine')) {
      expect(machine.Properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
      expect(JSON.stringify(machine.Properties.LoggingConfiguration)).toMatch(/StateMachineLogs/);
      expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    }
  });

  it('runs six task Lambdas for the whole deployment on Node.js 22, arm64, 15 minutes, traced, in the given subnets and security group', () => {
    const functions = resources(s, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(6);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Timeout: 900,
        TracingConfig: { Mode: 'Active' },
        VpcConfig: { SubnetIds: ['subnet-0aaa1111', 'subnet-0bbb2222'], SecurityGroupIds: ['sg-0123abcd'] },
      });
      const env = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect(env).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
        PGFERRY_PIPELINES_FILE: '/var/task/pipelines.json',
        PGFERRY_NAME_PREFIX: 'pgferry',
      });
      // Every pipeline of the deployment is served: no list of names that would outgrow Lambda's 4 KB of environment.
      expect(env.PGFERRY_PIPELINES).toBeUndefined();
    }
    const extract = s.template.toJSON().Resources[s.stack.getLogicalId(s.stack.taskFunctions.functions.extractChunk.node.defaultChild as never)] as Resource;
    expect(extract.Properties.MemorySize).toBe(1769);
  });

  it('reserves concurrency for each function, by default 32 chunks and 77 in all', () => {
    const reserved = Object.fromEntries(
      (Object.entries(s.stack.taskFunctions.functions) as [string, { node: { defaultChild?: unknown } }][]).map(([task, fn]) => [
        task,
        (s.template.toJSON().Resources[s.stack.getLogicalId(fn.node.defaultChild as never)] as Resource).Properties.ReservedConcurrentExecutions,
      ]),
    );
    expect(reserved).toEqual(RESERVED_CONCURRENCY_DEFAULTS);
    expect(Object.values(reserved).reduce((a, b) => (a as number) + (b as number), 0)).toBe(77);
  });

  it('lets each task read exactly the secrets it opens across every pipeline: sources only for Plan and ExtractChunk, never *', () => {
    for (const task of ['plan', 'extractChunk'] as const) {
      const secrets = secretsOf(s, task);
      for (const name of ['orders_oltp-??????', 'rds!db-0123abcd-??????', 'events/source-??????', 'dwh-??????', 'events/target-??????'])
        expect(secrets).toContain(`:secret:${name}`);
      expect(secrets).toContain(ORDERS_TARGET_ARN);
    }
    for (const task of ['apply', 'finalize', 'recordFailure', 'cleanup'] as const) {
      const secrets = secretsOf(s, task);
      expect(secrets, task).toContain(ORDERS_TARGET_ARN);
      expect(secrets, task).toContain(':secret:dwh-??????');
      expect(secrets, task).toContain(':secret:events/target-??????');
      for (const source of ['orders_oltp', 'rds!db-0123abcd', 'events/source']) expect(secrets, task).not.toContain(`:secret:${source}-`);
    }
    for (const st of statements(s).filter((x) => actions(x).some((a) => a.startsWith('secretsmanager:')))) {
      expect(actions(st)).toEqual(['secretsmanager:GetSecretValue']);
      expect(JSON.stringify(st.Resource)).not.toMatch(/"\*"|secret:\*/);
    }
  });

  it('has every state machine invoke published versions of the task functions, and its role invoke versions only', () => {
    const versionIds = [...versionTasks(s).keys()];
    s.template.resourceCountIs('AWS::Lambda::Version', 6);
    for (const name of ['orders', 'customers', 'events']) {
      const { stack, template } = pipelineTemplate(s, name);
      const machine = template.toJSON().Resources[stack.getLogicalId(s.stack.pipelines[name]!.stateMachine.node.defaultChild as never)] as Resource;
      const refs = JSON.stringify(machine.Properties.DefinitionString).match(/"Ref":"[^"]+"/g) ?? [];
      expect(refs.length).toBeGreaterThan(0);
      // Each reference is a parameter the root stack fills with a version's ARN (Ref of AWS::Lambda::Version).
      const nested = s.template.toJSON().Resources[s.stack.getLogicalId(Stack.of(s.stack.pipelines[name]!).nestedStackResource as never)] as Resource;
      const parameters = nested.Properties.Parameters as Record<string, { Ref?: string }>;
      for (const ref of refs) expect(versionIds).toContain(parameters[ref.slice(7, -1)]?.Ref);
    }
    // Kept when a later deploy publishes the next one: executions that started before it still invoke them.
    for (const [, version] of Object.entries(s.template.findResources('AWS::Lambda::Version')) as [
      string,
      { DeletionPolicy?: string; UpdateReplacePolicy?: string },
    ][]) {
      expect(version.DeletionPolicy).toBe('Retain');
      expect(version.UpdateReplacePolicy).toBe('Retain');
    }
    const invoke = statements(s).filter((st) => actions(st).includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    const invoked = (invoke[0]!.Resource as { 'Fn::Join': [string, [{ 'Fn::GetAtt': [string, string] }, string]] }[]).map(
      (r) => `${r['Fn::Join'][1][0]['Fn::GetAtt'][0]}${r['Fn::Join'][1][1]}`,
    );
    const expected = (['plan', 'extractChunk', 'apply', 'finalize', 'recordFailure'] as const).map(
      (t) => `${s.stack.getLogicalId(s.stack.taskFunctions.functions[t].node.defaultChild as never)}:*`,
    );
    expect(invoked.sort()).toEqual(expected.sort());
  });

  it("lets the state machines start and manage only the deployment's executions, and the schedules start only its state machines", () => {
    const rendered = (st: Statement) => JSON.stringify(st.Resource);
    const start = statements(s).filter((st) => actions(st).includes('states:StartExecution'));
    expect(start).toHaveLength(2);
    for (const st of start) expect(rendered(st)).toContain(':stateMachine:pgferry-*');
    const manage = statements(s).find((st) => actions(st).includes('states:StopExecution'));
    expect(rendered(manage!)).toContain(':execution:pgferry-*');
  });

  it('alarms once per failed or timed-out execution (no OK mail), on staleness of scheduled pipelines, on long tasks and on the dead-letter queue', () => {
    s.template.resourceCountIs('AWS::SNS::Topic', 1);
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    // The topic's own policy replaces SNS's default one: CloudWatch alarms of this account must be allowed to publish.
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': Match.anyValue() } }),
          }),
        ]),
      },
    });
    const alarms = resources(s, 'AWS::CloudWatch::Alarm').map(([id, a]) => ({ id, ...a.Properties }) as Record<string, unknown> & { id: string });
    const failure = alarms.filter((a) => a.id.includes('FailureAlarm'));
    expect(failure).toHaveLength(3);
    for (const a of failure) {
      expect(JSON.stringify(a.Metrics)).toContain('FILL(failed, 0) + FILL(timedOut, 0)');
      expect(JSON.stringify(a.Metrics)).toContain('ExecutionsFailed');
      expect(JSON.stringify(a.Metrics)).toContain('ExecutionsTimedOut');
      expect(a.OKActions).toBeUndefined();
    }
    const freshness = alarms.filter((a) => a.id.includes('FreshnessAlarm'));
    expect(freshness).toHaveLength(2);
    // cron every 15 minutes: three intervals, 45 one-minute periods without a successful run.
    const orders = freshness.find((a) => a.id.startsWith('orders'))!;
    expect(orders).toMatchObject({
      MetricName: 'RunsSucceeded',
      Namespace: 'pgferry',
      Period: 60,
      EvaluationPeriods: 45,
      DatapointsToAlarm: 45,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      ActionsEnabled: true,
    });
    expect(orders.Dimensions).toEqual(
      expect.arrayContaining([
        { Name: 'pipeline', Value: 'orders' },
        { Name: 'service', Value: 'pgferry' },
      ]),
    );
    // The disabled schedule's alarm exists but stays quiet.
    expect(freshness.find((a) => a.id.startsWith('events'))).toMatchObject({ ActionsEnabled: false, Period: 300, EvaluationPeriods: 36 });
    const durations = alarms.filter((a) => a.id.includes('DurationAlarm'));
    expect(durations).toHaveLength(6);
    for (const a of durations)
      expect(a).toMatchObject({ MetricName: 'Duration', Statistic: 'Maximum', Threshold: 720_000, ComparisonOperator: 'GreaterThanThreshold' });
    const dlq = alarms.filter((a) => a.MetricName === 'NumberOfMessagesSent');
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ Statistic: 'Sum', Threshold: 1 });
    expect(dlq[0]!.OKActions).toBeUndefined();
    expect(alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible')).toHaveLength(0);
    for (const alarm of alarms) expect(JSON.stringify(alarm.AlarmActions)).toMatch(/AlarmsTopic/);
  });

  it("runs the cleanup task on every FAILED, TIMED_OUT or ABORTED execution of the deployment's state machines", () => {
    const [, rule] = resources(s, 'AWS::Events::Rule')[0]!;
    expect(rule.Properties.EventPattern).toMatchObject({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
    });
    expect(JSON.stringify((rule.Properties.EventPattern as { detail: { stateMachineArn: unknown } }).detail.stateMachineArn)).toContain(
      ':stateMachine:pgferry-',
    );
    const cleanupId = s.stack.getLogicalId(s.stack.taskFunctions.functions.cleanup.node.defaultChild as never);
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [cleanupId, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 },
        DeadLetterConfig: expect.anything(),
      }),
    ]);
    s.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [cleanupId, 'Arn'] },
    });
  });

  it('keeps the dead-letter queue encrypted and TLS-only', () => {
    s.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it("shows every pipeline's rows, durations and outcomes on one dashboard that does not grow with them, and the functions' errors and throttles", () => {
    const [, dashboard] = resources(s, 'AWS::CloudWatch::Dashboard')[0]!;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of ['RowsExtracted', 'RunDuration', 'ChunkDuration', 'ExecutionsFailed', 'ExecutionsTimedOut', 'RunsSkipped'])
      expect(body).toContain(`MetricName=\\\\\\"${metric}`);
    expect(body).toContain('SEARCH(');
    for (const metric of ['Errors', 'Throttles', 'Duration']) expect(body).toContain(`\\"AWS/Lambda\\",\\"${metric}\\"`);
  });

  it('passes the cdk-nag AWS Solutions checks, every acknowledgement with its reason', () => {
    expect(nagFindings(s)).toEqual([]);
  });

  it('synthesizes without a single warning when a VPC is given (imported by id, offline)', () => {
    const warnings = Annotations.fromStack(s.stack)
      .findWarning('*', Match.anyValue())
      .map((m) => String(m.entry.data));
    expect(warnings).toEqual([]);
  });
});

describe('Stack: with the account and region every cdk deploy has', () => {
  let s: Synthesized;

  beforeAll(async () => {
    s = await synthesize({ pipelinesDir: pipelinesDir(THREE), noVpc: 'true' }, { env: { account: '123456789012', region: 'eu-west-1' } });
  });

  it('renders the ARNs as literals of that account and region', () => {
    const start = statements(s).filter((st) => actions(st).includes('states:StartExecution'));
    expect(start.map((st) => st.Resource)).toEqual(
      [['arn:aws:states:eu-west-1:123456789012:stateMachine:pgferry-*'], ['arn:aws:states:eu-west-1:123456789012:stateMachine:pgferry-*']].map((r) => r[0]),
    );
    expect(secretsOf(s, 'apply')).toContain('arn:aws:secretsmanager:eu-west-1:123456789012:secret:dwh-??????');
  });

  it('passes the cdk-nag AWS Solutions checks all the same: each acknowledgement matches what is rendered', () => {
    expect(nagFindings(s)).toEqual([]);
  });
});

describe('Stack: settings file without VPC, with a CA bundle and Node.js 24', () => {
  let s: Synthesized;

  beforeAll(async () => {
    const project = tempDir('pgferry-project-');
    writeFileSync(join(project, 'rds-ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(
      join(project, 'pgferry.settings.json'),
      JSON.stringify({
        vpc: false,
        caBundle: 'rds-ca.pem',
        lambdaRuntime: 'nodejs24.x',
        alarmEmail: 'oncall@example.com',
        logRetentionDays: 30,
        namePrefix: 'etl',
        reservedConcurrency: { extractChunk: 8 },
      }),
    );
    s = await synthesize({ pipelinesDir: pipelinesDir({ 'orders.yaml': awsPipelineYaml('orders') }) }, { projectDir: project });
  });

  it('ships the CA bundle and points PGFERRY_CA_BUNDLE at it instead of the runtime CA file', () => {
    for (const [, fn] of resources(s, 'AWS::Lambda::Function')) {
      const env = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect(env.PGFERRY_CA_BUNDLE).toBe('/var/task/rds-ca-bundle.pem');
      expect(env.NODE_EXTRA_CA_CERTS).toBeUndefined();
      expect(env.PGFERRY_NAME_PREFIX).toBe('etl');
      // The metrics' service dimension: another deployment's runs never satisfy this one's freshness alarms.
      expect(env.POWERTOOLS_SERVICE_NAME).toBe('etl');
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.VpcConfig).toBeUndefined();
    }
  });

  it('names the state machine with the prefix, subscribes the e-mail, keeps logs as long as asked, and deploys no schedule or schedule role', () => {
    expect(resources(s, 'AWS::StepFunctions::StateMachine').map(([, r]) => r.Properties.StateMachineName)).toEqual(['etl-orders']);
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    for (const [, group] of resources(s, 'AWS::Logs::LogGroup')) expect(group.Properties.RetentionInDays).toBe(30);
    expect(resources(s, 'AWS::Scheduler::Schedule')).toHaveLength(0);
    expect(resources(s, 'AWS::CloudWatch::Alarm').filter(([id]) => id.includes('FreshnessAlarm'))).toHaveLength(0);
    expect(s.stack.scheduleRole).toBeUndefined();
  });

  it('takes the reserved concurrency given for a task and the defaults for the others', () => {
    const extract = s.template.toJSON().Resources[s.stack.getLogicalId(s.stack.taskFunctions.functions.extractChunk.node.defaultChild as never)] as Resource;
    const plan = s.template.toJSON().Resources[s.stack.getLogicalId(s.stack.taskFunctions.functions.plan.node.defaultChild as never)] as Resource;
    expect(extract.Properties.ReservedConcurrentExecutions).toBe(8);
    expect(plan.Properties.ReservedConcurrentExecutions).toBe(RESERVED_CONCURRENCY_DEFAULTS.plan);
  });

  it('passes cdk-nag without acknowledging the runtime, and does not warn about the network (vpc: false)', () => {
    expect(nagFindings(s)).toEqual([]);
    expect(Annotations.fromStack(s.stack).findWarning('*', Match.stringLikeRegexp('No VPC configured'))).toEqual([]);
  });
});

describe('Stack: reservedConcurrency false and a pipeline wider than the reserved chunks', () => {
  it('reserves nothing when asked, and warns when max_parallel_chunks passes the reserved ExtractChunk concurrency', async () => {
    const project = tempDir('pgferry-project-');
    writeFileSync(join(project, 'pgferry.settings.json'), JSON.stringify({ vpc: false, reservedConcurrency: false }));
    const none = await synthesize({ pipelinesDir: pipelinesDir({ 'orders.yaml': awsPipelineYaml('orders', { parallel: 64 }) }) }, { projectDir: project });
    for (const [, fn] of resources(none, 'AWS::Lambda::Function')) expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();

    const wide = await synthesize({ pipelinesDir: pipelinesDir({ 'orders.yaml': awsPipelineYaml('orders', { parallel: 64 }) }), noVpc: 'true' });
    const warnings = Annotations.fromStack(wide.stack).findWarning('*', Match.stringLikeRegexp('max_parallel_chunks 64 is more than the 32 ExtractChunk'));
    expect(warnings).toHaveLength(1);
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsPipelineYaml, pipelinesDir, synthesize, tempDir, type Synthesized } from './helpers.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const ORDERS_TARGET_ARN = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:dwh/warehouse-AbC123';

function resources(s: Synthesized, type: string): [string, Resource][] {
  return Object.entries(s.template.findResources(type)) as [string, Resource][];
}

function statements(s: Synthesized): Statement[] {
  return resources(s, 'AWS::IAM::Policy').flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

function actions(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function nagFindings(s: Synthesized): string[] {
  const annotations = Annotations.fromStack(s.stack);
  return [...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')), ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))].map(
    (m) => `${m.id}: ${String(m.entry.data)}`,
  );
}

describe('Stack: three pipelines in a VPC', () => {
  let s: Synthesized;

  beforeAll(async () => {
    const dir = pipelinesDir({
      'orders.yaml': awsPipelineYaml('orders', { schedule: 'cron(0/15 * * * ? *)', timezone: 'Europe/Berlin', source: 'orders_oltp', target: ORDERS_TARGET_ARN, parallel: 6 }),
      'customers.yaml': awsPipelineYaml('customers', { source: 'rds!db-0123abcd', target: 'dwh' }),
      'events.yaml': awsPipelineYaml('events', { schedule: 'rate(1 hour)', enabled: false }),
    });
    s = await synthesize({ pipelinesDir: dir, vpcId: 'vpc-0a1b2c3d', subnetIds: 'subnet-0aaa1111,subnet-0bbb2222', securityGroupIds: 'sg-0123abcd' });
  });

  it('deploys one state machine per pipeline, named <prefix>-<pipeline>', () => {
    s.template.resourceCountIs('AWS::StepFunctions::StateMachine', 3);
    const names = resources(s, 'AWS::StepFunctions::StateMachine').map(([, r]) => r.Properties.StateMachineName).sort();
    expect(names).toEqual(['pgferry-customers', 'pgferry-events', 'pgferry-orders']);
  });

  it('deploys one schedule per pipeline that has one, with its expression, time zone and state', () => {
    s.template.resourceCountIs('AWS::Scheduler::Schedule', 2);
    s.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0/15 * * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      State: 'ENABLED',
      Target: Match.objectLike({
        Arn: { Ref: s.stack.getLogicalId(s.stack.pipelines.orders!.stateMachine.node.defaultChild as never) },
        Input: '{}',
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ScheduleDeadLetterQueue'), 'Arn'] } },
      }),
    });
    s.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 hour)', ScheduleExpressionTimezone: 'UTC', State: 'DISABLED' });
  });

  it('logs every state machine at level ALL with execution data, and traces it with X-Ray', () => {
    for (const [, machine] of resources(s, 'AWS::StepFunctions::StateMachine')) {
      expect(machine.Properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
      expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    }
  });

  it('runs five Lambdas per pipeline on Node.js 22, arm64, 15 minutes, traced, in the given subnets and security group', () => {
    const functions = resources(s, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(15);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Timeout: 900,
        TracingConfig: { Mode: 'Active' },
        VpcConfig: { SubnetIds: ['subnet-0aaa1111', 'subnet-0bbb2222'], SecurityGroupIds: ['sg-0123abcd'] },
      });
      const env = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect(env).toMatchObject({ NODE_OPTIONS: '--enable-source-maps', NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem', PGFERRY_PIPELINES_FILE: '/var/task/pipelines.json' });
      expect(['orders', 'customers', 'events']).toContain(env.PGFERRY_PIPELINES);
    }
    const extract = functions.filter(([id]) => id.includes('ExtractChunk'));
    expect(extract.map(([, fn]) => fn.Properties.MemorySize)).toEqual([1769, 1769, 1769]);
  });

  it('lets each pipeline\'s tasks read exactly the secrets it names, never *', () => {
    const secretStatements = statements(s).filter((st) => actions(st).some((a) => a.startsWith('secretsmanager:')));
    expect(secretStatements).toHaveLength(3);
    for (const st of secretStatements) {
      expect(actions(st)).toEqual(['secretsmanager:GetSecretValue']);
      expect(JSON.stringify(st.Resource)).not.toMatch(/"\*"|secret:\*/);
    }
    const rendered = secretStatements.map((st) => JSON.stringify(st.Resource));
    expect(rendered.find((r) => r.includes('orders_oltp'))).toContain(ORDERS_TARGET_ARN);
    expect(rendered.find((r) => r.includes('orders_oltp'))).toContain(':secret:orders_oltp-??????');
    expect(rendered.find((r) => r.includes('rds!db-0123abcd'))).toContain(':secret:dwh-??????');
    expect(rendered.find((r) => r.includes('events/source'))).toContain(':secret:events/target-??????');
    // One pipeline's role never names another pipeline's secret.
    expect(rendered.find((r) => r.includes('orders_oltp'))).not.toContain('dwh-??????');
  });

  it('lets each state machine invoke only its own five functions, and start and manage only its own executions', () => {
    const orders = s.stack.pipelines.orders!;
    const ordersFunctions = Object.values(orders.functions).map((fn) => s.stack.getLogicalId(fn.node.defaultChild as never)).sort();
    const invoke = statements(s).filter((st) => actions(st).includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(3);
    const ordersInvoke = invoke.find((st) => JSON.stringify(st.Resource).includes(ordersFunctions[0]!));
    const invoked = (ordersInvoke!.Resource as { 'Fn::GetAtt': [string, string] }[]).map((r) => r['Fn::GetAtt'][0]).sort();
    expect(invoked).toEqual(ordersFunctions);
    const start = statements(s).filter((st) => actions(st).includes('states:StartExecution') && JSON.stringify(st.Resource).includes(':stateMachine:pgferry-orders'));
    expect(start).toHaveLength(1);
    const describe = statements(s).find((st) => actions(st).includes('states:DescribeExecution') && JSON.stringify(st.Resource).includes('pgferry-orders'));
    expect(JSON.stringify(describe!.Resource)).toMatch(/execution:pgferry-orders:\*.*|execution:pgferry-orders\/\*/);
  });

  it('alarms on failed and timed-out executions of every pipeline and on the dead-letter queue, all to one encrypted topic', () => {
    s.template.resourceCountIs('AWS::SNS::Topic', 1);
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const alarms = resources(s, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    expect(alarms.filter((a) => a.MetricName === 'ExecutionsFailed')).toHaveLength(3);
    expect(alarms.filter((a) => a.MetricName === 'ExecutionsTimedOut')).toHaveLength(3);
    expect(alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible')).toHaveLength(1);
    const topic = s.template.findResources('AWS::SNS::Topic');
    const topicId = Object.keys(topic)[0]!;
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  it('keeps the dead-letter queue encrypted and TLS-only', () => {
    s.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('shows rows and durations of every pipeline on one dashboard', () => {
    const [, dashboard] = resources(s, 'AWS::CloudWatch::Dashboard')[0]!;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const name of ['orders', 'customers', 'events']) {
      expect(body).toContain(`\\"pipeline\\",\\"${name}\\"`);
    }
    for (const metric of ['RowsExtracted', 'RowsInserted', 'RunDuration', 'ChunkDuration']) expect(body).toContain(metric);
  });

  it('passes the cdk-nag AWS Solutions checks, every acknowledgement with its reason', () => {
    expect(nagFindings(s)).toEqual([]);
  });

  it('synthesizes without a single warning when a VPC is given (imported by id, offline)', () => {
    expect(Annotations.fromStack(s.stack).findWarning('*', Match.anyValue()).map((m) => String(m.entry.data))).toEqual([]);
  });
});

describe('Stack: settings file without VPC, with a CA bundle and Node.js 24', () => {
  let s: Synthesized;

  beforeAll(async () => {
    const project = tempDir('pgferry-project-');
    writeFileSync(join(project, 'rds-ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(
      join(project, 'pgferry.settings.json'),
      JSON.stringify({ vpc: false, caBundle: 'rds-ca.pem', lambdaRuntime: 'nodejs24.x', alarmEmail: 'oncall@example.com', logRetentionDays: 30, namePrefix: 'etl' }),
    );
    s = await synthesize({ pipelinesDir: pipelinesDir({ 'orders.yaml': awsPipelineYaml('orders') }) }, { projectDir: project });
  });

  it('ships the CA bundle and points PGFERRY_CA_BUNDLE at it instead of the runtime CA file', () => {
    for (const [, fn] of resources(s, 'AWS::Lambda::Function')) {
      const env = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect(env.PGFERRY_CA_BUNDLE).toBe('/var/task/rds-ca-bundle.pem');
      expect(env.NODE_EXTRA_CA_CERTS).toBeUndefined();
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.VpcConfig).toBeUndefined();
    }
  });

  it('names the state machine with the prefix, subscribes the e-mail, keeps logs as long as asked, and deploys no schedule or queue', () => {
    s.template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'etl-orders' });
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    for (const [, group] of resources(s, 'AWS::Logs::LogGroup')) expect(group.Properties.RetentionInDays).toBe(30);
    s.template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    s.template.resourceCountIs('AWS::SQS::Queue', 0);
  });

  it('passes cdk-nag without acknowledging the runtime, and does not warn about the network (vpc: false)', () => {
    expect(nagFindings(s)).toEqual([]);
    expect(Annotations.fromStack(s.stack).findWarning('*', Match.stringLikeRegexp('No VPC configured'))).toEqual([]);
  });
});

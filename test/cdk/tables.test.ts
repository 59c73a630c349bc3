import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_RESOURCES_PER_TEMPLATE, MAX_TEMPLATE_BYTES } from '../../cdk/pipeline-stack.ts';
import { awsPipelineYaml, pipelinesDir, pipelineTemplate, synthesize, type Synthesized } from './helpers.ts';

/** A file of `tables` exact entries (and one pattern), scheduled. */
function tablesYaml(name: string, tables: number): string {
  const entries = Array.from(
    { length: tables },
    (_, i) =>
      `  - table: sales.t${String(i).padStart(3, '0')}\n    strategy: {mode: incremental_merge}\n    options: {incremental_strategy: column, incremental_column: updated_at}`,
  );
  return `name: ${name}
schedule: {expression: "rate(15 minutes)"}
max_parallel_tables: 8
source: {type: postgres, connection_id: ${name}/source}
sink: {type: postgres, connection_id: ${name}/target}
tables:
${entries.join('\n')}
  - table: "sales.*"
defaults:
  target: {schema: landing}
  strategy: {mode: full_refresh}
`;
}

function resources(template: Template, type: string): Record<string, { Properties: Record<string, unknown> }> {
  return template.findResources(type) as Record<string, { Properties: Record<string, unknown> }>;
}

describe('Stack: files that list tables', () => {
  const env = { account: '123456789012', region: 'eu-west-1' };
  let mixed: Synthesized;
  let twenty: Synthesized;

  beforeAll(async () => {
    const dir = pipelinesDir({ 'orders.yaml': awsPipelineYaml('orders', { schedule: 'rate(1 hour)' }), 'sales.yaml': tablesYaml('sales', 3) });
    mixed = await synthesize({ pipelinesDir: dir, noVpc: 'true' });
    const files = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}.yaml`, tablesYaml(`f${String(i).padStart(2, '0')}`, 50)]));
    twenty = await synthesize({ pipelinesDir: pipelinesDir(files), noVpc: 'true' }, { env });
  }, 240_000);

  it("deploys a file's machine and its table machine, scheduled and alarmed on the file's", () => {
    const { template } = pipelineTemplate(mixed, 'sales');
    const machines = Object.values(resources(template, 'AWS::StepFunctions::StateMachine')).map((m) => m.Properties.StateMachineName);
    expect(machines.sort()).toEqual(['pgferry-sales', 'pgferry-sales-Tables']);
    const construct = mixed.stack.pipelines.sales!;
    const machineId = pipelineTemplate(mixed, 'sales').stack.getLogicalId(construct.stateMachine.node.defaultChild as never);
    const machine = template.toJSON().Resources[machineId] as { Properties: { DefinitionString: unknown } };
    expect(JSON.stringify(machine.Properties.DefinitionString)).toContain('arn:aws:states:::states:startExecution.sync:2');
    const schedules = Object.values(resources(template, 'AWS::Scheduler::Schedule'));
    expect(schedules).toHaveLength(1);
    expect(JSON.stringify(schedules[0]?.Properties.Target)).toContain(machineId);
    expect(Object.keys(resources(template, 'AWS::CloudWatch::Alarm'))).toHaveLength(2);
  });

  it('adds the Tables and Summarize functions, and lets the machines wait for table runs', () => {
    expect(mixed.stack.taskFunctions.fileFunctions).toBeDefined();
    const roleId = mixed.stack.getLogicalId(mixed.stack.stateMachineRole.node.defaultChild as never);
    const role = mixed.template.toJSON().Resources[roleId] as {
      Properties: { Policies: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } }[] };
    };
    const text = JSON.stringify(role.Properties.Policies);
    expect(text).toContain('events:PutRule');
    expect(text).toContain('rule/StepFunctionsGetEventsForStepFunctionsExecutionRule');
    // The Tables role reads the file's source and state secrets; Summarize opens none.
    const fileRoles = mixed.stack.taskFunctions.fileFunctions!.roles;
    const policies = JSON.stringify(mixed.template.toJSON().Resources);
    expect(policies).toContain('sales/source');
    expect(fileRoles.summarize).toBeDefined();
  });

  it("names the table on the alarm topic when a table's run ends badly", () => {
    const rules = Object.values(resources(mixed.template, 'AWS::Events::Rule')).filter((r) => JSON.stringify(r.Properties.EventPattern).includes('-Tables'));
    expect(rules).toHaveLength(1);
    expect(rules[0]?.Properties.EventPattern).toMatchObject({
      detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ wildcard: '*:stateMachine:pgferry-*-Tables' }] },
    });
    const target = (rules[0]?.Properties.Targets as { Arn: unknown; InputTransformer?: { InputTemplate: string } }[])[0];
    expect(JSON.stringify(target?.Arn)).toContain(mixed.stack.getLogicalId(mixed.stack.alarmTopic.topic.node.defaultChild as never));
    expect(target?.InputTransformer?.InputTemplate).toMatch(/pgferry table run <detail-name> <detail-status>/);
  });

  it('synthesizes with and without an account, with no cdk-nag error', () => {
    // Without an account (mixed) and with one (twenty, whose ARNs render as literals).
    for (const s of [mixed, twenty]) {
      expect(Annotations.fromStack(s.stack).findError('*', Match.anyValue())).toEqual([]);
    }
  });

  it("keeps 20 files of 50 tables each under CloudFormation's limits, the templates not growing with the tables", () => {
    const templates = [twenty.template, ...Object.values(twenty.stack.pipelineStacks).map((n) => Template.fromStack(n))];
    for (const t of templates) {
      expect(Object.keys(t.toJSON().Resources).length).toBeLessThanOrEqual(MAX_RESOURCES_PER_TEMPLATE);
      expect(JSON.stringify(t.toJSON()).length).toBeLessThan(MAX_TEMPLATE_BYTES);
    }
    const total = templates.reduce((n, t) => n + Object.keys(resources(t, 'AWS::StepFunctions::StateMachine')).length, 0);
    expect(total).toBe(40);
    // Tables resolve at run time: a file of 3 tables and a file of 50 deploy machines of the same size.
    const size = (s: Synthesized, name: string): number =>
      JSON.stringify(
        Object.values(resources(pipelineTemplate(s, name).template, 'AWS::StepFunctions::StateMachine')).filter((m) =>
          String(m.Properties.StateMachineName).startsWith(`pgferry-${name}`),
        ),
      ).length;
    expect(Math.abs(size(twenty, 'f00') - size(mixed, 'sales'))).toBeLessThan(100);
  });
});

// Regression: 40 single-table pipeline files used to synthesize to 688 resources in one template (5 functions,
// a role and log groups per pipeline), past CloudFormation's 500.
import { Template } from 'aws-cdk-lib/assertions';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_PIPELINES_PER_STACK, MAX_RESOURCES_PER_TEMPLATE, MAX_TEMPLATE_BYTES, pipelineStackId, pipelineStackIndex } from '../../cdk/pipeline-stack.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { awsPipelineYaml, pipelinesDir, synthesize, tempDir, type Synthesized } from './helpers.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };

/** `count` single-table pipeline files, each with its own source and target secret and a schedule. */
function generated(count: number, from = 1): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = from; i < from + count; i += 1) {
    const name = `t${String(i).padStart(3, '0')}`;
    files[`${name}.yaml`] = awsPipelineYaml(name, { schedule: 'rate(15 minutes)', table: name });
  }
  return files;
}

/** A project directory whose pgferry.settings.json holds `settings`. */
function settingsProject(settings: Record<string, unknown>): string {
  const dir = tempDir('pgferry-project-');
  writeFileSync(join(dir, 'pgferry.settings.json'), JSON.stringify({ vpc: false, ...settings }));
  return dir;
}

/** Resources per template: the root's and each nested stack's. */
function counts(s: Synthesized): Record<string, number> {
  const out: Record<string, number> = { root: Object.keys(s.template.toJSON().Resources).length };
  for (const [id, nested] of Object.entries(s.stack.pipelineStacks)) out[id] = Object.keys(Template.fromStack(nested).toJSON().Resources).length;
  return out;
}

/** IAM's own measure of a policy: its JSON without white space, ARNs rendered. */
function policySize(document: unknown): number {
  return JSON.stringify(document).replace(/\s/g, '').length;
}

describe('Stack: many pipeline files', () => {
  const env = { account: '123456789012', region: 'eu-west-1' };
  let one: Synthesized;
  let forty: Synthesized;
  let fortyOne: Synthesized;
  let threeHundred: Synthesized;

  beforeAll(async () => {
    one = await synthesize({ pipelinesDir: pipelinesDir(generated(1)), noVpc: 'true' });
    forty = await synthesize({ pipelinesDir: pipelinesDir(generated(40)), noVpc: 'true' }, { env });
    fortyOne = await synthesize(
      { pipelinesDir: pipelinesDir({ ...generated(40), 'zz-added.yaml': awsPipelineYaml('added', { schedule: 'rate(1 hour)' }) }), noVpc: 'true' },
      { env },
    );
    threeHundred = await synthesize({ pipelinesDir: pipelinesDir(generated(300)), noVpc: 'true' }, { env });
  }, 240_000);

  it("keeps every template under CloudFormation's 500 resources for 1, 40 and 300 pipeline files", () => {
    for (const s of [one, forty, threeHundred]) {
      for (const [template, n] of Object.entries(counts(s))) expect(n, template).toBeLessThanOrEqual(MAX_RESOURCES_PER_TEMPLATE);
    }
    const c300 = counts(threeHundred);
    expect(Object.keys(c300)).toHaveLength(17);
    // 300 pipelines, 4 resources each (state machine, schedule, failure and freshness alarms), over the nested stacks.
    expect(
      Object.entries(c300)
        .filter(([id]) => id !== 'root')
        .reduce((sum, [, n]) => sum + n, 0),
    ).toBe(300 * 4);
  });

  it("keeps every template under CloudFormation's 1 MB at 300 pipeline files, and refuses a nested stack that would pass it, naming the setting", async () => {
    const sizes = [threeHundred.template, ...Object.values(threeHundred.stack.pipelineStacks).map((n) => Template.fromStack(n))].map(
      (t) => JSON.stringify(t.toJSON()).length,
    );
    for (const size of sizes) expect(size).toBeLessThan(MAX_TEMPLATE_BYTES);
    const crowded = synthesize(
      { pipelinesDir: pipelinesDir(generated(MAX_PIPELINES_PER_STACK + 1)), noVpc: 'true' },
      { projectDir: settingsProject({ pipelineStacks: 1 }) },
    );
    await expect(crowded).rejects.toThrow(/Pipelines00 would hold more than 90 pipelines .* pipelineStacks in pgferry.settings.json \(now 1\)/);
  });

  it('costs each pipeline 4 resources of its own; the shared part does not grow with the pipelines but for IAM policies', () => {
    const shared = (s: Synthesized) =>
      Object.values(s.template.toJSON().Resources as Record<string, Resource>).filter(
        (r) => r.Type !== 'AWS::CloudFormation::Stack' && r.Type !== 'AWS::IAM::ManagedPolicy',
      ).length;
    expect(shared(forty)).toBe(shared(one));
    expect(shared(threeHundred)).toBe(shared(one));
    const [nestedId] = Object.keys(one.stack.pipelineStacks);
    expect(counts(one)[nestedId!]).toBe(4);
  });

  it("keeps every role's policies within IAM's limits at 300 pipelines (inline 10,240 characters a role, 6,144 a managed policy, 10 managed policies a role)", () => {
    const resources = threeHundred.template.toJSON().Resources as Record<string, Resource>;
    const inline = new Map<string, number>();
    const managed = new Map<string, number[]>();
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type === 'AWS::IAM::Role')
        inline.set(
          id,
          ((r.Properties.Policies ?? []) as { PolicyDocument: unknown }[]).reduce((n, p) => n + policySize(p.PolicyDocument), 0),
        );
    }
    for (const r of Object.values(resources)) {
      const roles = ((r.Properties.Roles ?? []) as { Ref: string }[]).map((x) => x.Ref);
      for (const role of roles) {
        if (r.Type === 'AWS::IAM::Policy') inline.set(role, (inline.get(role) ?? 0) + policySize(r.Properties.PolicyDocument));
        if (r.Type === 'AWS::IAM::ManagedPolicy') managed.set(role, [...(managed.get(role) ?? []), policySize(r.Properties.PolicyDocument)]);
      }
    }
    expect(inline.size).toBeGreaterThan(0);
    for (const [role, size] of inline) expect(size, role).toBeLessThanOrEqual(10_240);
    for (const [role, sizes] of managed) {
      expect(sizes.length, role).toBeLessThanOrEqual(10);
      for (const size of sizes) expect(size, role).toBeLessThanOrEqual(6_144);
    }
    // ExtractChunk's role names all 600 secrets one by one.
    const extractRole = threeHundred.stack.getLogicalId(threeHundred.stack.taskFunctions.roles.extractChunk.node.defaultChild as never);
    const named = JSON.stringify(Object.values(resources).filter((r) => JSON.stringify(r.Properties.Roles ?? '').includes(extractRole)));
    expect(named.match(/:secret:t\d{3}\/(source|target)-\?{6}/g)?.length).toBe(600);
  });

  it('passes cdk-nag at 300 pipelines with an account and region', () => {
    const annotations = Annotations.fromStack(threeHundred.stack);
    expect([
      ...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ]).toEqual([]);
  });

  it('leaves every existing pipeline in its nested stack, under the same logical ids, when a pipeline file is added', () => {
    for (const [name, pipeline] of Object.entries(forty.stack.pipelines)) {
      const after = fortyOne.stack.pipelines[name]!;
      expect(after.node.path, name).toBe(pipeline.node.path);
      const id = (p: typeof pipeline) =>
        (p.stateMachine.stack as unknown as { getLogicalId: (x: unknown) => string }).getLogicalId(p.stateMachine.node.defaultChild);
      expect(id(after), name).toBe(id(pipeline));
      // And the nested stack resource in the root keeps its logical id too.
      expect(fortyOne.stack.getLogicalId(after.stateMachine.stack.nestedStackResource as never)).toBe(
        forty.stack.getLogicalId(pipeline.stateMachine.stack.nestedStackResource as never),
      );
    }
  });

  it('places a pipeline by its name alone', () => {
    expect(pipelineStackIndex('orders', 16)).toBe(pipelineStackIndex('orders', 16));
    const spread = new Set(Array.from({ length: 300 }, (_, i) => pipelineStackIndex(`t${i}`, 16)));
    expect(spread.size).toBe(16);
    expect(pipelineStackId(3)).toBe('Pipelines03');
  });
});

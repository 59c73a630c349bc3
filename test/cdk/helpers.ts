/** Helpers of the AWS-side tests: pipeline files that deploy, synthesis without bundling, Secrets Manager faked at the SDK boundary. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App, Stack, type NestedStack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { buildPgferryApp } from '../../cdk/build.ts';
import { PROJECT_ROOT } from '../../cdk/bundling.ts';
import type { PipelineStack } from '../../cdk/pipeline-stack.ts';
import { clearSecretCache } from '../../lib/connections/index.ts';
import type { StateMachineDefinition, TaskKey } from '../../lib/workflow/definition.ts';
import { tempDir } from '../helpers/temp.ts';

/** The repository's cdk.json context (feature flags), so tests synthesize what `cdk synth` does. */
export const CDK_CONTEXT: Record<string, unknown> = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> })
  .context;

export { tempDir } from '../helpers/temp.ts';

/** A pipeline file whose connections are Secrets Manager secrets, as deployed pipelines must be. */
export function awsPipelineYaml(
  name: string,
  options: {
    schedule?: string;
    timezone?: string;
    enabled?: boolean;
    source?: string;
    target?: string;
    table?: string;
    sslmode?: string;
    chunkRows?: number;
    parallel?: number;
  } = {},
): string {
  const table = options.table ?? 'orders';
  const params = options.sslmode ? `\n  connection_params: {sslmode: ${options.sslmode}}` : '';
  const schedule = options.schedule
    ? `schedule:\n  expression: "${options.schedule}"\n  timezone: ${options.timezone ?? 'UTC'}\n  enabled: ${options.enabled ?? true}\n`
    : '';
  return `name: ${name}
${schedule}source:
  type: postgres
  connection_id: ${options.source ?? `${name}/source`}
  connection_type: secretsmanager${params}
  table: {schema: public, name: ${table}}
  options: {chunk_rows: ${options.chunkRows ?? 1000000}, max_parallel_chunks: ${options.parallel ?? 4}}
sink:
  type: postgres
  connection_id: ${options.target ?? `${name}/target`}
  connection_type: secretsmanager${params}
  table: {schema: public, name: ${table}}
  strategy: {mode: full_refresh}
`;
}

/** Writes pipeline files (name -> YAML) into a new directory and returns it. */
export function pipelinesDir(files: Record<string, string>): string {
  const dir = tempDir('pgferry-pipelines-');
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** A synthesized pgferry app (asset bundling skipped unless asked for). */
export interface Synthesized {
  readonly app: App;
  readonly stack: PipelineStack;
  readonly template: Template;
}

/** Builds and synthesizes the app from `context` (pipelinesDir, vpcId, ...), as `cdk synth -c ...` would. */
export async function synthesize(
  context: Record<string, unknown>,
  options: { bundle?: boolean; projectDir?: string; env?: { account: string; region: string } } = {},
): Promise<Synthesized> {
  const outdir = tempDir('pgferry-cdk-out-');
  const app = new App({
    outdir,
    context: { ...CDK_CONTEXT, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...context },
  });
  // A project directory of its own, so a settings file in the repository cannot change what the test sees.
  const stack = await buildPgferryApp(app, {
    projectDir: options.projectDir ?? tempDir('pgferry-project-'),
    // Environment-agnostic unless asked: what the environment of the test process holds must not matter.
    env: options.env ?? { account: undefined, region: undefined },
  });
  return { app, stack, template: Template.fromStack(stack) };
}

/** The RDS-format secret of a postgres URL (what Secrets Manager would hold for it). */
export function rdsSecret(url: string): string {
  const u = new URL(url);
  return JSON.stringify({
    engine: 'postgres',
    host: u.hostname,
    port: Number(u.port || 5432),
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    dbname: decodeURIComponent(u.pathname.slice(1)),
  });
}

/** Fakes Secrets Manager at the SDK boundary: each secret id answers the RDS secret of its URL; any other id is ResourceNotFoundException. */
export function fakeSecrets(secrets: Record<string, string>): ReturnType<typeof mockClient> {
  clearSecretCache();
  const mock = mockClient(SecretsManagerClient);
  mock.on(GetSecretValueCommand).callsFake((input: { SecretId?: string }) => {
    const url = input.SecretId === undefined ? undefined : secrets[input.SecretId];
    if (url === undefined) {
      const error = new Error(`Secrets Manager can't find the specified secret.`);
      error.name = 'ResourceNotFoundException';
      throw error;
    }
    return { Name: input.SecretId, SecretString: rdsSecret(url) };
  });
  return mock;
}

/** The task of each AWS::Lambda::Version of the root template, by logical id (renamed at synthesis, so read from the template). */
export function versionTasks(s: Synthesized): Map<string, TaskKey> {
  const functionTask = new Map(
    (Object.entries(s.stack.taskFunctions.functions) as [TaskKey, { node: { defaultChild?: unknown } }][]).map(([task, fn]) => [
      s.stack.getLogicalId(fn.node.defaultChild as never),
      task,
    ]),
  );
  const versions = s.template.findResources('AWS::Lambda::Version') as Record<string, { Properties: { FunctionName: { Ref: string } } }>;
  return new Map(Object.entries(versions).map(([id, v]) => [id, functionTask.get(v.Properties.FunctionName.Ref) as TaskKey]));
}

/** A pipeline's nested stack and its template. */
export function pipelineTemplate(s: Synthesized, pipeline: string): { stack: Stack; template: Template } {
  const construct = s.stack.pipelines[pipeline];
  if (!construct) throw new Error(`no pipeline ${pipeline} in the stack`);
  const stack = Stack.of(construct);
  return { stack, template: Template.fromStack(stack) };
}

/**
 * The definition of a pipeline's state machine as its nested template holds it, with each reference to a
 * task function's version (a parameter the root stack fills with the version's ARN) replaced by
 * `resources[task]`: comparable to `buildDefinition(config, resources)` and runnable by the local runner.
 */
export function synthesizedDefinition(s: Synthesized, pipeline: string, resources: Readonly<Record<TaskKey, string>>): StateMachineDefinition {
  const { stack: nested, template } = pipelineTemplate(s, pipeline);
  const construct = s.stack.pipelines[pipeline]!;
  const versionIds = versionTasks(s);
  const nestedResource = (nested as NestedStack).nestedStackResource;
  if (!nestedResource) throw new Error(`pipeline ${pipeline} is not in a nested stack`);
  const root = s.template.toJSON().Resources as Record<string, { Properties: { Parameters?: Record<string, unknown> } }>;
  const parameters = root[s.stack.getLogicalId(nestedResource as never)]?.Properties.Parameters ?? {};
  const machineId = nested.getLogicalId(construct.stateMachine.node.defaultChild as never);
  const machine = template.toJSON().Resources[machineId] as { Properties: { DefinitionString: unknown } };
  const body = machine.Properties.DefinitionString as string | { 'Fn::Join': [string, unknown[]] };
  const parts = typeof body === 'string' ? [body] : body['Fn::Join'][1];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const parameter = (part as { Ref?: string }).Ref;
      const value = parameter === undefined ? undefined : (parameters[parameter] as { Ref?: string } | undefined);
      const task = value?.Ref === undefined ? undefined : versionIds.get(value.Ref);
      if (task === undefined) throw new Error(`unexpected token in the definition: ${JSON.stringify(part)}`);
      return resources[task];
    })
    .join('');
  return JSON.parse(text) as StateMachineDefinition;
}

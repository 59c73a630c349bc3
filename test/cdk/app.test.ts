import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../cdk/bundling.ts';
import { loadDeploySettings, RESERVED_CONCURRENCY_DEFAULTS } from '../../cdk/settings.ts';
import { validateCommand } from '../../lib/cli/commands/validate.ts';
import { ConfigError } from '../../lib/errors.ts';
import { awsPipelineYaml, pipelinesDir, synthesize, tempDir } from './helpers.ts';

const run = promisify(execFile);

const BROKEN = `name: Orders
source: {type: postgres, connection_id: a, table: {name: orders}}
sink: {type: postgres, connection_id: b, table: {name: orders}, strategy: {mode: incremental_merge}}
`;

async function validateLines(files: string[]): Promise<string[]> {
  const err: string[] = [];
  await validateCommand(files, { out: () => undefined, err: (l) => err.push(l) });
  return err;
}

async function synthError(files: Record<string, string>): Promise<ConfigError> {
  const error = await synthesize({ pipelinesDir: pipelinesDir(files) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('App: which pipeline files deploy', () => {
  it('fails synth on an invalid pipeline file with the lines pgferry validate prints', async () => {
    const dir = pipelinesDir({ 'orders.yaml': BROKEN });
    const error = await synthError({ 'orders.yaml': BROKEN });
    const expected = await validateLines([join(dir, 'orders.yaml')]);
    expect(expected.length).toBeGreaterThan(1);
    // Same lines, apart from the temporary directory each test wrote its copy to.
    const strip = (lines: string[]) => lines.map((l) => l.replace(/^.*\/orders\.yaml: /, 'orders.yaml: '));
    expect(strip(error.message.split('\n'))).toEqual(strip(expected));
  });

  it('the cdk app itself prints those lines and exits 2, without a stack trace', async () => {
    const dir = pipelinesDir({ 'orders.yaml': BROKEN });
    const result = await run(process.execPath, [join(PROJECT_ROOT, 'node_modules/tsx/dist/cli.mjs'), join(PROJECT_ROOT, 'cdk/app.ts')], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ pipelinesDir: dir }), CDK_OUTDIR: tempDir() },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${join(dir, 'orders.yaml')}: name:`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses url and env connections on AWS, naming the file and key, never the URL', async () => {
    const withUrl = awsPipelineYaml('orders').replace(
      'connection_id: orders/source\n  connection_type: secretsmanager',
      'connection_id: "postgres://etl:s3cret-pw@db.internal/app"\n  connection_type: url',
    );
    const withEnv = awsPipelineYaml('customers').replace(
      'connection_type: secretsmanager\n  table: {schema: public, name: orders}\n  strategy',
      'connection_type: env\n  table: {schema: public, name: orders}\n  strategy',
    );
    const error = await synthError({ 'orders.yaml': withUrl, 'customers.yaml': withEnv });
    expect(error.message).toMatch(/orders\.yaml: source\.connection_type: url connections are for local runs only/);
    expect(error.message).toMatch(/customers\.yaml: sink\.connection_type: env connections read PGFERRY_CONN_\* variables/);
    expect(error.message).not.toContain('s3cret-pw');
    expect(error.message).not.toContain('db.internal');
  });

  it('refuses an sslrootcert path (a local file) and points at the caBundle setting', async () => {
    const yaml = awsPipelineYaml('orders').replace(
      'connection_type: secretsmanager\n  table: {schema: public, name: orders}\n  options',
      'connection_type: secretsmanager\n  connection_params: {sslrootcert: /home/me/ca.pem}\n  table: {schema: public, name: orders}\n  options',
    );
    const error = await synthError({ 'orders.yaml': yaml });
    expect(error.message).toContain('source.connection_params.sslrootcert: a local file the Lambdas do not have; set caBundle');
  });

  it('fails on an empty pipelines directory', async () => {
    const error = await synthError({});
    expect(error.message).toContain('no pipeline files (*.yaml, *.yml) to deploy');
  });
});

describe('Function: loadDeploySettings', () => {
  const context = (values: Record<string, unknown>) => (key: string) => values[key];

  it('applies the defaults without a settings file', () => {
    const project = tempDir();
    expect(loadDeploySettings(context({}), project)).toEqual({
      stackName: 'pgferry',
      namePrefix: 'pgferry',
      pipelinesDir: join(project, 'pipelines'),
      noVpcAcknowledged: false,
      logRetentionDays: 90,
      lambdaRuntime: 'nodejs22.x',
      extractMemoryMb: 1769,
      taskMemoryMb: 512,
      secretsKmsKeyArns: [],
      reservedConcurrency: RESERVED_CONCURRENCY_DEFAULTS,
      pipelineStacks: 16,
    });
  });

  it('reads the VPC from context, lists comma-separated, over the settings file', () => {
    const project = tempDir();
    writeFileSync(join(project, 'pgferry.settings.json'), JSON.stringify({ vpc: false, pipelinesDir: 'etl' }));
    const settings = loadDeploySettings(
      context({ vpcId: 'vpc-0abc1234', subnetIds: 'subnet-0123abcd, subnet-0456abcd', securityGroupIds: 'sg-0ff01234' }),
      project,
    );
    expect(settings.vpc).toEqual({ vpcId: 'vpc-0abc1234', subnetIds: ['subnet-0123abcd', 'subnet-0456abcd'], securityGroupIds: ['sg-0ff01234'] });
    expect(settings.pipelinesDir).toBe(join(project, 'etl'));
  });

  it('refuses EC2 ids of a length AWS never makes, and takes multi-Region KMS keys', () => {
    const project = tempDir();
    expect(() => loadDeploySettings(context({ vpcId: 'vpc-0abc123', subnetIds: 'subnet-0123abcd' }), project)).toThrow(
      /CDK context: vpc\.vpcId: expected vpc-<8 or 17 hex>/,
    );
    const kms = 'arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab';
    expect(loadDeploySettings(context({ secretsKmsKeyArns: kms }), project).secretsKmsKeyArns).toEqual([kms]);
  });

  it('reports every problem of the file and the context at once, with the fix', () => {
    const project = tempDir();
    writeFileSync(
      join(project, 'pgferry.settings.json'),
      JSON.stringify({ vpc: { vpcId: 'vpc-0abc', subnetIds: [] }, colour: 'blue', lambdaRuntime: 'nodejs20.x' }),
    );
    let error: unknown;
    try {
      loadDeploySettings(context({ subnetIds: 'subnet-01', taskMemoryMb: 'lots' }), project);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('pgferry.settings.json: vpc.subnetIds: expected at least one subnet-... id');
    expect(message).toContain('unknown key(s) colour');
    expect(message).toContain('lambdaRuntime');
    expect(message).toContain('CDK context: vpcId: required with subnetIds/securityGroupIds');
    expect(message).toContain('CDK context: taskMemoryMb: expected a number, got "lots"');
  });
});

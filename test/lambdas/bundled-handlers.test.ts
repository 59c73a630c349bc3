// The deployed artifact, not the source: the asset NodejsFunction bundles (minified ES module, AWS SDK
// inside) runs a pipeline. The SDK bundled in it is its own copy, out of aws-sdk-client-mock's reach, so
// Secrets Manager is faked one step further out: a local HTTP endpoint speaking its JSON protocol.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionKey } from '../../lib/workflow/definition.ts';
import { rowHashes } from '../helpers/compare.ts';
import { statusEvent } from '../helpers/events.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { awsPipelineYaml, pipelinesDir, rdsSecret, synthesize, tempDir, type Synthesized } from '../cdk/helpers.ts';

type Handler = (event: unknown, context: unknown) => Promise<Record<string, unknown>>;

const run = promisify(execFile);
const RESULT = '@@pgferry-result@@';

/**
 * Invokes a bundle the way the Lambda runtime does: a Node process of its own that imports index.mjs
 * natively (not through vitest's module runner) and calls `handler(event, context)`.
 */
const INVOKER = `
const [file, event, context] = process.argv.slice(2);
const { handler } = await import(file);
const ctx = { ...JSON.parse(context), getRemainingTimeInMillis: () => 900000 };
let result;
try { result = { output: await handler(JSON.parse(event), ctx) }; }
catch (error) { result = { error: { name: error.name, message: error.message } }; }
process.stdout.write('\\n${RESULT}' + JSON.stringify(result) + '\\n');
`;

const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n';

/** A Secrets Manager endpoint for GetSecretValue: secret id -> postgres URL. */
async function fakeSecretsEndpoint(secrets: Record<string, string>): Promise<{ server: Server; url: string; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const target = req.headers['x-amz-target'];
      const { SecretId } = JSON.parse(body || '{}') as { SecretId?: string };
      calls.push(`${String(target)} ${SecretId ?? ''}`);
      const url = SecretId === undefined ? undefined : secrets[SecretId];
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (target !== 'secretsmanager.GetSecretValue' || url === undefined) {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }));
        return;
      }
      res.end(
        JSON.stringify({
          ARN: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${SecretId}-AbCdEf`,
          Name: SecretId,
          SecretString: rdsSecret(url),
          VersionId: 'v1',
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

describe('Lambdas as deployed: the bundled assets run a pipeline', () => {
  let server: TestPostgres;
  let source: pg.Client;
  let target: pg.Client;
  let endpoint: Awaited<ReturnType<typeof fakeSecretsEndpoint>>;
  let s: Synthesized;
  const assets: Partial<Record<FunctionKey, { dir: string; env: Record<string, string> }>> = {};

  beforeAll(async () => {
    server = await startTestPostgres();
    const sourceUrl = await server.createDatabase('src');
    const targetUrl = await server.createDatabase('dst');
    source = await server.client(sourceUrl);
    target = await server.client(targetUrl);
    await source.query(`CREATE TABLE public.orders (id integer PRIMARY KEY, note text, at timestamptz DEFAULT now());
      INSERT INTO public.orders (id, note) SELECT g, 'note ' || g FROM generate_series(1, 1200) g; ANALYZE public.orders;`);
    endpoint = await fakeSecretsEndpoint({ 'shipped/source': sourceUrl, 'shipped/target': targetUrl });

    const project = tempDir('pgferry-project-');
    writeFileSync(join(project, 'ca.pem'), CA_PEM);
    writeFileSync(join(project, 'pgferry.settings.json'), JSON.stringify({ vpc: false, caBundle: 'ca.pem' }));
    const dir = pipelinesDir({
      'shipped.yaml': awsPipelineYaml('shipped', { sslmode: 'disable', chunkRows: 500 }),
      'broken.yaml': awsPipelineYaml('broken', { sslmode: 'disable', source: 'shipped/source', target: 'shipped/target', table: 'no_such_table' }),
    });
    s = await synthesize({ pipelinesDir: dir }, { bundle: true, projectDir: project });
    for (const [task, fn] of Object.entries(s.stack.taskFunctions.functions) as [FunctionKey, { node: { defaultChild?: unknown } }][]) {
      const resource = s.template.toJSON().Resources[s.stack.getLogicalId(fn.node.defaultChild as never)] as {
        Properties: { Code: { S3Key: string }; Environment: { Variables: Record<string, string> } };
      };
      const hash = resource.Properties.Code.S3Key.replace(/\.zip$/, '');
      assets[task] = { dir: join(s.app.outdir, `asset.${hash}`), env: resource.Properties.Environment.Variables };
    }
  });

  afterAll(async () => {
    endpoint?.server.close();
    await server?.stop();
  });

  /** A task's bundled handler, run in its own process with the environment the function is deployed with (/var/task mapped to the asset). */
  function bundledHandler(task: FunctionKey, served = 'shipped'): Handler {
    const asset = assets[task]!;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      ...Object.fromEntries(Object.entries(asset.env).map(([key, value]) => [key, value.replace('/var/task', asset.dir)])),
      PGFERRY_PIPELINES: served,
      LAMBDA_TASK_ROOT: asset.dir,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'example-secret',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint.url,
      // Node 20 here; Lambda runs 22+.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const invoker = join(asset.dir, '..', 'pgferry-invoke.mjs');
    writeFileSync(invoker, INVOKER);
    return async (event, context) => {
      const { stdout } = await run(
        process.execPath,
        [invoker, pathToFileURL(join(asset.dir, 'index.mjs')).href, JSON.stringify(event), JSON.stringify(context)],
        { env, maxBuffer: 16 * 1024 * 1024 },
      );
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT));
      if (line === undefined) throw new Error(`no result from the ${task} bundle:\n${stdout}`);
      const result = JSON.parse(line.slice(RESULT.length)) as { output?: Record<string, unknown>; error?: { name: string; message: string } };
      if (result.error) throw Object.assign(new Error(result.error.message), { name: result.error.name });
      return result.output ?? {};
    };
  }

  const context = (task: string) => ({
    functionName: `pgferry-${task}`,
    awsRequestId: randomUUID(),
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:pgferry-${task}`,
    memoryLimitInMB: '512',
    getRemainingTimeInMillis: () => 900_000,
  });

  it('ships the bundled code with its source map, the validated pipelines and the CA bundle in every asset', () => {
    for (const task of ['plan', 'extractChunk', 'apply', 'finalize', 'recordFailure', 'cleanup'] as const) {
      const dir = assets[task]!.dir;
      expect(existsSync(join(dir, 'index.mjs')), task).toBe(true);
      expect(existsSync(join(dir, 'index.mjs.map')), task).toBe(true);
      expect(readFileSync(join(dir, 'rds-ca-bundle.pem'), 'utf8')).toBe(CA_PEM);
      const bundle = JSON.parse(readFileSync(join(dir, 'pipelines.json'), 'utf8')) as { version: number; pipelines: { name: string }[] };
      expect(bundle.pipelines.map((p) => p.name)).toEqual(['broken', 'shipped']);
      expect(assets[task]!.env.PGFERRY_CA_BUNDLE).toBe('/var/task/rds-ca-bundle.pem');
    }
  });

  it('runs plan, every chunk, apply and finalize from the bundles and loads the target', async () => {
    const runId = `exec-${randomUUID()}`;
    const planned = (await bundledHandler('plan')({ pipeline: 'shipped', runId, request: {} }, context('plan'))) as { chunks: number[] };
    expect(planned.chunks.length).toBeGreaterThan(1);
    const extract = bundledHandler('extractChunk');
    for (const chunk of planned.chunks) await extract({ pipeline: 'shipped', runId, chunk }, context('extract-chunk'));
    await bundledHandler('apply')({ pipeline: 'shipped', runId }, context('apply'));
    const summary = await bundledHandler('finalize')({ pipeline: 'shipped', runId }, context('finalize'));
    expect(summary).toMatchObject({ status: 'succeeded', rowsExtracted: 1200, rowsInserted: 1200 });
    expect(await rowHashes(target, 'public.orders')).toEqual(await rowHashes(source, 'public.orders'));
    expect(endpoint.calls).toContain('secretsmanager.GetSecretValue shipped/source');
  });

  it('cleans up from the bundle after an EventBridge status-change event of an aborted execution', async () => {
    const runId = `exec-${randomUUID()}`;
    await bundledHandler('plan')({ pipeline: 'shipped', runId, request: {} }, context('plan'));
    const event = statusEvent(runId, 'ABORTED', { machine: 'pgferry-shipped' });
    const out = await bundledHandler('cleanup')(event, context('cleanup'));
    expect(out).toMatchObject({ pipeline: 'shipped', runId, status: 'aborted', recorded: true });
    const lease = await target.query(`SELECT lease_run_id FROM pgferry.pipeline_state WHERE pipeline = 'shipped'`);
    expect(lease.rows[0]?.lease_run_id).toBeNull();
    const staging = await target.query(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgferry_staging' AND c.relkind = 'r'`,
    );
    expect(staging.rows[0]?.n).toBe(0);
  });

  it('keeps error names through minification, so Retry and Catch still match', async () => {
    const plan = bundledHandler('plan', 'broken');
    const error = await plan({ pipeline: 'broken', runId: `exec-${randomUUID()}`, request: {} }, context('plan')).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.name).toBe('DatabaseError');
    expect(error?.message).toContain('does not exist');
  });
});

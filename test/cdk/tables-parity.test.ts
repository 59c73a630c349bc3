import { join } from 'node:path';
import type { NestedStack } from 'aws-cdk-lib';
import aslValidator from 'asl-validator';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineSource, type TablesFile } from '../../lib/config/index.ts';
import { LOCAL_RESOURCES } from '../../lib/local/runner.ts';
import { runLocalFile } from '../../lib/local/tables.ts';
import { buildFileDefinition, buildTableDefinition, type StateMachineDefinition } from '../../lib/workflow/definition.ts';
import { rowHashes } from '../helpers/compare.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { fakeSecrets, pipelinesDir, pipelineTemplate, synthesize, type Synthesized } from './helpers.ts';

const FILE_RESOURCES = {
  tables: 'arn:aws:lambda:local:000000000000:function:pgferry-tables',
  summarize: 'arn:aws:lambda:local:000000000000:function:pgferry-summarize',
  tableMachine: 'arn:aws:states:local:000000000000:stateMachine:pgferry-sales-Tables',
};

/**
 * A machine's definition as the nested template holds it, each token replaced: a function version (a parameter the
 * root fills) by the local resource of its task, the table machine's Ref by FILE_RESOURCES.tableMachine.
 */
function definitionOf(s: Synthesized, pipeline: string, which: 'stateMachine' | 'tableMachine'): StateMachineDefinition {
  const { stack: nested, template } = pipelineTemplate(s, pipeline);
  const construct = s.stack.pipelines[pipeline]!;
  const fns = { ...s.stack.taskFunctions.functions, ...(s.stack.taskFunctions.fileFunctions?.functions ?? {}) };
  const taskOfFunction = new Map(Object.entries(fns).map(([task, fn]) => [s.stack.getLogicalId(fn.node.defaultChild as never), task]));
  const versions = s.template.findResources('AWS::Lambda::Version') as Record<string, { Properties: { FunctionName: { Ref: string } } }>;
  const taskOfVersion = new Map(Object.entries(versions).map(([id, v]) => [id, taskOfFunction.get(v.Properties.FunctionName.Ref)]));
  const root = s.template.toJSON().Resources as Record<string, { Properties: { Parameters?: Record<string, { Ref?: string }> } }>;
  const parameters = root[s.stack.getLogicalId((nested as NestedStack).nestedStackResource as never)]?.Properties.Parameters ?? {};
  const resources: Record<string, string> = { ...LOCAL_RESOURCES, tables: FILE_RESOURCES.tables, summarize: FILE_RESOURCES.summarize };
  const tableMachineId = construct.tableMachine ? nested.getLogicalId(construct.tableMachine.node.defaultChild as never) : '';
  const machine = construct[which]!;
  const body = (template.toJSON().Resources[nested.getLogicalId(machine.node.defaultChild as never)] as { Properties: { DefinitionString: unknown } })
    .Properties.DefinitionString as string | { 'Fn::Join': [string, unknown[]] };
  const parts = typeof body === 'string' ? [body] : body['Fn::Join'][1];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = (part as { Ref?: string }).Ref;
      if (ref === tableMachineId) return FILE_RESOURCES.tableMachine;
      const task = ref === undefined ? undefined : taskOfVersion.get(parameters[ref]?.Ref ?? '');
      if (task === undefined || resources[task] === undefined) throw new Error(`unexpected token in the definition: ${JSON.stringify(part)}`);
      return resources[task];
    })
    .join('');
  return JSON.parse(text) as StateMachineDefinition;
}

describe('Parity: the deployed machines of a file of tables are the ones the local run executes', () => {
  let server: TestPostgres;
  let source: pg.Client;
  let target: pg.Client;
  let file: TablesFile;
  let synthesized: Synthesized;
  let secrets: ReturnType<typeof fakeSecrets>;

  beforeAll(async () => {
    server = await startTestPostgres();
    const sourceUrl = await server.createDatabase('src');
    const targetUrl = await server.createDatabase('dst');
    source = await server.client(sourceUrl);
    target = await server.client(targetUrl);
    await source.query(`CREATE SCHEMA sales;
      CREATE TABLE sales.orders (id bigint PRIMARY KEY, amount int); INSERT INTO sales.orders SELECT g, g FROM generate_series(1, 1500) g;
      CREATE TABLE sales.lines (id bigint PRIMARY KEY, qty int); INSERT INTO sales.lines SELECT g, g % 7 FROM generate_series(1, 700) g;
      CREATE TABLE sales.nokey (v int); INSERT INTO sales.nokey VALUES (1);`);
    await target.query('CREATE SCHEMA landing');
    const dir = pipelinesDir({
      'sales.yaml': `name: sales
schedule: {expression: "rate(15 minutes)"}
max_parallel_tables: 2
source: {type: postgres, connection_id: sales/source, connection_params: {sslmode: disable}}
sink: {type: postgres, connection_id: sales/target, connection_params: {sslmode: disable}}
tables:
  - table: "sales.*"
    options: {chunk_rows: 500, max_parallel_chunks: 3}
defaults:
  target: {schema: landing}
  strategy: {mode: incremental_merge}
`,
    });
    const loaded = await loadPipelineSource(join(dir, 'sales.yaml'));
    if (loaded.kind !== 'tables') throw new Error('expected a file of tables');
    file = loaded;
    synthesized = await synthesize({ pipelinesDir: dir, noVpc: 'true' });
    secrets = fakeSecrets({ 'sales/source': sourceUrl, 'sales/target': targetUrl });
  });

  afterAll(async () => {
    secrets?.restore();
    await server?.stop();
  });

  it('equals buildFileDefinition and buildTableDefinition once their ARNs are mapped back', () => {
    const fileMachine = definitionOf(synthesized, 'sales', 'stateMachine');
    const tableMachine = definitionOf(synthesized, 'sales', 'tableMachine');
    expect(fileMachine).toEqual(buildFileDefinition(file, FILE_RESOURCES));
    expect(tableMachine).toEqual(buildTableDefinition('sales', LOCAL_RESOURCES));
    for (const d of [fileMachine, tableMachine]) expect(aslValidator(structuredClone(d)).errors).toEqual([]);
  });

  it('runs the synthesized machines locally: every table loaded, the keyless one failing alone', async () => {
    const summary = await runLocalFile(file, {
      fileDefinition: definitionOf(synthesized, 'sales', 'stateMachine'),
      tableDefinition: definitionOf(synthesized, 'sales', 'tableMachine'),
    });
    expect(summary.tables.map((t) => [t.table, t.status])).toEqual([
      ['sales.lines', 'succeeded'],
      ['sales.nokey', 'failed'],
      ['sales.orders', 'succeeded'],
    ]);
    expect(summary.tables.find((t) => t.table === 'sales.orders')?.chunks).toBe(3);
    expect(await rowHashes(target, 'landing.orders')).toEqual(await rowHashes(source, 'sales.orders'));
    expect(await rowHashes(target, 'landing.lines')).toEqual(await rowHashes(source, 'sales.lines'));
  });
});

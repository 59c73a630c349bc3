import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPipelineDir, loadPipelineFile } from '../../lib/config/index.ts';
import { ConfigError } from '../../lib/errors.ts';

const pipelinesDir = fileURLToPath(new URL('../../pipelines/', import.meta.url));

/** A valid pipeline file named `name`. */
function pipelineText(name: string): string {
  return [
    `name: ${name}`,
    'source: {type: postgres, connection_id: oltp, table: {name: orders}}',
    'sink: {type: postgres, connection_id: dwh, table: {name: orders}, strategy: {mode: full_refresh}}',
    '',
  ].join('\n');
}

/** The ConfigError a promise rejects with. */
async function configErrorOf(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgferry-config-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Function: loadPipelineFile', () => {
  it('loads the example pipeline shipped in pipelines/', async () => {
    const config = await loadPipelineFile(join(pipelinesDir, 'orders.yaml'));
    expect(config.name).toBe('orders');
    expect(config.schedule).toEqual({ expression: 'rate(15 minutes)', timezone: 'UTC', enabled: true });
    expect(config.source).toMatchObject({ connection_id: 'orders_oltp', connection_type: 'secretsmanager', table: { schema: 'public', name: 'orders' } });
    expect(config.sink).toMatchObject({
      connection_id: 'dwh',
      connection_type: 'secretsmanager',
      strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' },
    });
  });

  it('names a missing file as given', async () => {
    const error = await configErrorOf(loadPipelineFile('pipelines/nope.yaml'));
    expect(error.problems).toEqual([{ file: 'pipelines/nope.yaml', path: '', message: 'file not found' }]);
    expect(error.message).toBe('pipelines/nope.yaml: file not found');
  });

  it('refuses a directory', async () => {
    const error = await configErrorOf(loadPipelineFile(dir));
    expect(error.message).toBe(`${dir}: is a directory; expected a pipeline file`);
  });

  it('reports problems with the path it was given', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, pipelineText('Bad'));
    const error = await configErrorOf(loadPipelineFile(file));
    expect(error.problems).toEqual([expect.objectContaining({ file, path: 'name' })]);
  });
});

describe('Function: loadPipelineDir', () => {
  it('loads every .yaml and .yml file, in name order, and nothing else', async () => {
    await writeFile(join(dir, 'b.yml'), pipelineText('beta'));
    await writeFile(join(dir, 'a.yaml'), pipelineText('alpha'));
    await writeFile(join(dir, 'notes.txt'), 'not a pipeline');
    await writeFile(join(dir, '.hidden.yaml'), 'not: [valid');
    await mkdir(join(dir, 'sub.yaml'));
    await writeFile(join(dir, 'sub.yaml', 'c.yaml'), pipelineText('gamma'));
    const configs = await loadPipelineDir(dir);
    expect(configs.map((config) => config.name)).toEqual(['alpha', 'beta']);
  });

  it('returns no pipelines for a directory without pipeline files', async () => {
    expect(await loadPipelineDir(dir)).toEqual([]);
  });

  it('refuses a name used by two files, naming both', async () => {
    await writeFile(join(dir, 'orders.yaml'), pipelineText('orders'));
    await writeFile(join(dir, 'orders-copy.yaml'), pipelineText('orders'));
    const error = await configErrorOf(loadPipelineDir(dir));
    expect(error.problems).toEqual([
      {
        file: join(dir, 'orders.yaml'),
        path: 'name',
        message: `pipeline "orders" is also defined in ${join(dir, 'orders-copy.yaml')}; names must be unique`,
      },
    ]);
  });

  it('reports the problems of every file in one error', async () => {
    await writeFile(join(dir, 'a.yaml'), pipelineText('alpha').replace('full_refresh', 'incremental_merge'));
    await writeFile(join(dir, 'b.yaml'), 'name: beta\nsource: [oops\n');
    await writeFile(join(dir, 'c.yaml'), pipelineText('gamma'));
    const error = await configErrorOf(loadPipelineDir(dir));
    expect(error.problems.map((problem) => problem.file)).toEqual([join(dir, 'a.yaml'), join(dir, 'b.yaml')]);
    expect(error.message).toContain(`${join(dir, 'a.yaml')}: sink.strategy.unique_key: required when mode is incremental_merge`);
    expect(error.message).toContain(`${join(dir, 'b.yaml')}: YAML syntax error`);
  });

  it('finds a duplicate name even in a file that has other problems', async () => {
    await writeFile(join(dir, 'a.yaml'), pipelineText('orders'));
    await writeFile(join(dir, 'b.yaml'), pipelineText('orders').replace('name: orders}', 'name: ""}'));
    const error = await configErrorOf(loadPipelineDir(dir));
    expect(error.problems.map((problem) => `${problem.file} ${problem.path}`)).toEqual([
      `${join(dir, 'b.yaml')} source.table.name`,
      `${join(dir, 'b.yaml')} name`,
    ]);
  });

  it('names a missing directory', async () => {
    const missing = join(dir, 'nope');
    const error = await configErrorOf(loadPipelineDir(missing));
    expect(error.message).toBe(`${missing}: directory not found`);
  });
});

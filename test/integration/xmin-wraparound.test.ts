import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocal } from '../../lib/local/runner.ts';
import { debianPostgresBin, startDebianCluster, type DebianCluster } from '../helpers/debian-pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { rowHashes } from '../helpers/compare.ts';

const EPOCH = 2n ** 32n;
const bin = debianPostgresBin();

// pg_resetwal is not among the embedded binaries; the distribution's PostgreSQL (in the CI image) has it.
describe.skipIf(!bin)('Feature: xmin cursor across xid epochs (cluster advanced with pg_resetwal -e)', () => {
  let cluster: DebianCluster;
  let source: pg.Client;
  let target: pg.Client;
  const warnings: string[] = [];
  const log = { info: () => undefined, warn: (m: string) => warnings.push(m), error: () => undefined };

  beforeAll(async () => {
    cluster = await startDebianCluster({ epoch: 3 });
    const admin = new pg.Client({ connectionString: cluster.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE src');
    await admin.query('CREATE DATABASE dst');
    await admin.end();
    source = new pg.Client({ connectionString: cluster.url('src') });
    target = new pg.Client({ connectionString: cluster.url('dst') });
    await source.connect();
    await target.connect();
    await source.query(`CREATE TABLE public.t (id bigint PRIMARY KEY, v text)`);
    await source.query(`INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 500) g`);
  });

  afterAll(async () => {
    await source?.end();
    await target?.end();
    cluster?.stop();
  });

  const config = () =>
    pipelineConfig(cluster.url('src'), cluster.url('dst'), {
      name: 'wrap',
      source: { table: { schema: 'public', name: 't' } },
      options: { incremental_strategy: 'xmin', chunk_rows: 200 },
      sink: { table: { schema: 'public', name: 't' } },
      strategy: { mode: 'incremental_merge', unique_key: ['id'] },
    });

  async function setCursor(xid: bigint): Promise<void> {
    await target.query(`UPDATE pgferry.pipeline_state SET cursor = jsonb_build_object('strategy', 'xmin', 'xmin', $1::text) WHERE pipeline = 'wrap'`, [
      xid.toString(),
    ]);
  }

  it('stores 64-bit bounds in the advanced epoch and loads new rows within it', async () => {
    const first = await runLocal(config(), { log });
    expect(first.status).toBe('succeeded');
    expect(BigInt(first.window?.upper ?? '0') / EPOCH).toBe(3n);
    await source.query(`INSERT INTO public.t VALUES (501, 'new')`);
    const second = await runLocal(config(), { log });
    expect(second.status).toBe('succeeded');
    expect(second.rowsExtracted).toBe(1);
    expect(await rowHashes(target, 'public.t')).toEqual(await rowHashes(source, 'public.t'));
  });

  it('a window that wraps the 32-bit counter once is split in two and misses nothing', async () => {
    // The previous run's bound near the end of epoch 2: every current row (xmin < 2^32 of epoch 3) is in the window.
    await setCursor(3n * EPOCH - 100n);
    await target.query('TRUNCATE public.t');
    const run = await runLocal(config(), { log });
    expect(run.status).toBe('succeeded');
    expect(run.window?.full).toBe(false);
    expect(run.rowsExtracted).toBe(501);
    expect(await rowHashes(target, 'public.t')).toEqual(await rowHashes(source, 'public.t'));
  });

  it('a window spanning more than one epoch becomes a full extraction, and says so', async () => {
    await setCursor(1n * EPOCH + 10n);
    await target.query('TRUNCATE public.t');
    warnings.length = 0;
    const run = await runLocal(config(), { log });
    expect(run.status).toBe('succeeded');
    expect(run.window?.full).toBe(true);
    expect(run.rowsExtracted).toBe(501);
    expect(warnings.some((w) => w.includes('extracting every row'))).toBe(true);
    expect(await rowHashes(target, 'public.t')).toEqual(await rowHashes(source, 'public.t'));
  });

  it('a stored bound ahead of the server (state from another server) becomes a full extraction', async () => {
    await setCursor(9n * EPOCH);
    await target.query('TRUNCATE public.t');
    const run = await runLocal(config(), { log });
    expect(run.status).toBe('succeeded');
    expect(run.rowsExtracted).toBe(501);
    expect(await rowHashes(target, 'public.t')).toEqual(await rowHashes(source, 'public.t'));
  });
});

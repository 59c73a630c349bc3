// scratch: peak RSS of pgferry run under different node flags / parallelism, 1M rows truncate_insert
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../lib/local/embedded.ts';
import { seedSql, targetSql } from '../dataset.ts';
import { measure } from '../measure.ts';
import { SERVER_SETTINGS } from '../options.ts';
import { ROOT, writePipeline } from '../pgferry.ts';
import { sql } from '../server.ts';
const server = await startEmbeddedPostgres({ settings: SERVER_SETTINGS });
try {
  await sql(server.url('postgres'), ['CREATE DATABASE src', 'CREATE DATABASE dst']);
  const urls = { source: server.url('src'), target: server.url('dst') };
  await sql(urls.source, seedSql('public.orders', 1_000_000));
  await sql(urls.target, targetSql('public.t'));
  const dir = await mkdtemp(join(tmpdir(), 'rss-'));
  for (const par of [4]) {
    const file = await writePipeline(dir, { name: `p${par}`, sourceTable: 'orders', targetTable: 't', strategy: { mode: 'full_refresh', overwrite_type: 'truncate_insert' }, options: { chunk_rows: 200000, max_parallel_chunks: par } }, urls);
    for (const flags of ['', '--import ./bench/.scratch/setflags.mjs', '--max-semi-space-size=2']) {
      const m = await measure(process.execPath, [...flags.split(' ').filter(Boolean), join(ROOT, 'bin/pgferry.js'), 'run', file, '--json']);
      const s = JSON.parse(m.stdout.trim().split('\n').pop() ?? '{}') as { status: string; durationMs: number };
      console.log(`parallel ${par} flags '${flags}': ${s.status} ${(m.wallMs / 1000).toFixed(2)} s (run ${(s.durationMs / 1000).toFixed(2)} s) peak RSS ${((m.peakRssKb ?? 0) / 1024).toFixed(0)} MB`);
    }
  }
} finally { await server.stop(); }

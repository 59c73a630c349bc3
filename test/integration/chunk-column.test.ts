import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../lib/local/runner.ts';
import { computePlan } from '../../lib/workflow/planning.ts';
import { cli } from '../helpers/cli.ts';
import { rowHashes } from '../helpers/compare.ts';
import { recorder } from '../helpers/log.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { tempDir } from '../helpers/temp.ts';

const SOURCE_DDL = `
CREATE TABLE public.by_unique (k int, v text);
CREATE UNIQUE INDEX by_unique_k ON public.by_unique (k);
CREATE INDEX by_unique_v ON public.by_unique (v);
INSERT INTO public.by_unique SELECT g, 'v' || g FROM generate_series(1, 3000) g;
CREATE TABLE public.by_index (day date NOT NULL, n int);
CREATE INDEX by_index_day ON public.by_index (day);
INSERT INTO public.by_index SELECT date '2026-01-01' + (g % 300), g FROM generate_series(1, 3000) g;
CREATE TABLE public.unindexed (a int, b text);
INSERT INTO public.unindexed SELECT g, 'b' FROM generate_series(1, 3000) g;
ANALYZE;`;

describe('Feature: a table without a single-column primary key is chunked on a column an index orders it by', () => {
  const db = useSourceAndTarget(SOURCE_DDL);
  const config = (table: string) =>
    pipelineConfig(db.sourceUrl, db.targetUrl, {
      name: `cc_${table}`,
      source: { table: { schema: 'public', name: table } },
      options: { chunk_rows: 500 },
      sink: { table: { schema: 'public', name: `cc_${table}` } },
    });
  const plan = (table: string) => computePlan(db.source, db.target, config(table), 'preview', { stored: undefined, fullRefresh: false, log: recorder() });

  it('takes the leading column of a unique index first, else of any btree index, and loads every row once', async () => {
    const unique = await plan('by_unique');
    expect(unique.plan.chunkColumn).toEqual({ name: 'k', type: 'integer' });
    expect(unique.chunks.length).toBe(6);
    const indexed = await plan('by_index');
    expect(indexed.plan.chunkColumn).toEqual({ name: 'day', type: 'date' });
    expect(indexed.chunks.length).toBeGreaterThan(1);
    for (const table of ['by_unique', 'by_index']) {
      const summary = await runLocal(config(table));
      expect(summary, table).toMatchObject({ status: 'succeeded', rowsInserted: 3000 });
      expect(summary.chunks, table).toBeGreaterThan(1);
      expect(await rowHashes(db.target, `public.cc_${table}`)).toEqual(await rowHashes(db.source, `public.${table}`));
    }
  });

  it('runs a table no index orders as one chunk, and plan and check say so with what to set', async () => {
    const one = await plan('unindexed');
    expect(one.plan.chunkColumn).toBeUndefined();
    expect(one.chunks.length).toBe(1);
    const dir = tempDir('pgferry-chunk-column-');
    const file = join(dir, 'unindexed.yaml');
    await writeFile(
      file,
      `name: unindexed
source: {type: postgres, connection_type: url, connection_id: "${db.sourceUrl}", table: {name: unindexed}, options: {chunk_rows: 500}}
sink: {type: postgres, connection_type: url, connection_id: "${db.targetUrl}", table: {name: cc_unindexed_cli}, strategy: {mode: full_refresh}}
`,
    );
    const planned = await cli('plan', file);
    expect(planned.code).toBe(0);
    expect(planned.stdout.join('\n')).toMatch(
      /-- one chunk: the table has no single-column primary key and no btree index .*set source\.options\.chunk_column/,
    );
    const checked = await cli('check', file, '--json');
    const report = JSON.parse(checked.stdout.at(-1) ?? '{}') as { warnings?: string[] };
    expect(report.warnings?.join('\n')).toMatch(/"public"\."unindexed" \(\d+ MB, about 3,000 rows\) has no single-column primary key .* one chunk/);
  });
});

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../lib/local/runner.ts';
import { describeSource } from '../../lib/source/describe.ts';
import { computePlan } from '../../lib/workflow/planning.ts';
import { recorder } from '../helpers/log.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { rowHashes } from '../helpers/compare.ts';
import { cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

// 6,000 rows of ~1.1 kB each (kept inline: below the 2 kB TOAST threshold, so not compressed): ~7 MB.
const SOURCE_DDL = `
CREATE TABLE public.wide (id bigint PRIMARY KEY, body text NOT NULL);
INSERT INTO public.wide SELECT g, repeat(md5(g::text), 34) FROM generate_series(1, 6000) g;
ANALYZE public.wide;
CREATE TABLE public.parts (id bigint, day int, body text) PARTITION BY LIST (day);
CREATE TABLE public.parts_1 PARTITION OF public.parts FOR VALUES IN (1);
CREATE TABLE public.parts_2 PARTITION OF public.parts FOR VALUES IN (2);
INSERT INTO public.parts SELECT g, 1 + g % 2, repeat(md5(g::text), 34) FROM generate_series(1, 4000) g;
ANALYZE public.parts;
CREATE VIEW public.wide_view AS SELECT * FROM public.wide;
CREATE TABLE public.never_analyzed (id bigint PRIMARY KEY, body text);`;

describe('Feature: without chunk_rows, chunks of wide rows hold a fixed share of the table, not a million rows', () => {
  const db = useSourceAndTarget(SOURCE_DDL);

  const config = (name: string, table: string, options: Record<string, unknown> = {}) =>
    pipelineConfig(db.sourceUrl, db.targetUrl, {
      name,
      source: { table: { schema: 'public', name: table } },
      options,
      sink: { table: { schema: 'public', name } },
    });

  it('measures bytes per row as stored: of a table, of a partitioned table over its partitions; unknown for a view or a table never analyzed', async () => {
    const actual = Number((await db.source.query(`SELECT pg_table_size('public.wide')::float8 / 6000 AS b`)).rows[0].b);
    const wide = await describeSource(db.source, { table: { schema: 'public', name: 'wide' } }, undefined);
    expect(wide.rowBytes).toBeGreaterThan(1100);
    expect(wide.rowBytes).toBeCloseTo(actual, -1);
    const parts = await describeSource(db.source, { table: { schema: 'public', name: 'parts' } }, undefined);
    expect(parts.rowBytes).toBeGreaterThan(1100);
    expect(parts.rowBytes).toBeLessThan(1500);
    expect((await describeSource(db.source, { table: { schema: 'public', name: 'wide_view' } }, undefined)).rowBytes).toBeUndefined();
    expect((await describeSource(db.source, { table: { schema: 'public', name: 'never_analyzed' } }, undefined)).rowBytes).toBeUndefined();
  });

  it('splits by the byte budget into balanced chunks; chunk_rows, when set, is the smaller of it and the budget', async () => {
    const log = recorder();
    const options = { stored: undefined, fullRefresh: false, log, chunkBytes: 1024 * 1024 };
    const byBytes = await computePlan(db.source, db.target, config('cs_bytes', 'wide'), 'preview', options);
    // ~7 MB in 1 MiB chunks: ~900 rows per chunk, 6-7 chunks.
    expect(byBytes.chunkRows).toBeGreaterThan(800);
    expect(byBytes.chunkRows).toBeLessThan(1000);
    expect(byBytes.chunks.length).toBe(Math.ceil(6000 / byBytes.chunkRows));
    const sizes: number[] = [];
    for (const c of byBytes.chunks) {
      const counted = await db.source.query({
        text: 'SELECT count(*) AS n FROM public.wide WHERE ($1::bigint IS NULL OR id >= $1) AND ($2::bigint IS NULL OR id < $2)',
        values: [c.lower, c.upper],
      });
      sizes.push(Number(counted.rows[0].n));
    }
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(6000);
    expect(Math.max(...sizes)).toBeLessThan(byBytes.chunkRows * 1.5);

    const explicit = await computePlan(db.source, db.target, config('cs_rows', 'wide', { chunk_rows: 500 }), 'preview', options);
    expect(explicit.chunkRows).toBe(500);
    expect(explicit.chunks.length).toBe(12);
    // chunk_rows above what fits the byte budget is lowered to it: a chunk of wide rows must still fit one task.
    const capped = await computePlan(db.source, db.target, config('cs_capped', 'wide', { chunk_rows: 3000 }), 'preview', options);
    expect(capped.chunkRows).toBe(byBytes.chunkRows);

    // With the real budget (256 MiB) the table is one chunk.
    const real = await computePlan(db.source, db.target, config('cs_real', 'wide'), 'preview', { stored: undefined, fullRefresh: false, log });
    expect(real.chunks.length).toBe(1);
  });

  it('a run without chunk_rows loads every row exactly and logs the chunk size it chose', async () => {
    const log = recorder();
    const summary = await runLocal(config('cs_run', 'wide'), { log });
    expect(summary.error).toBeUndefined();
    expect(summary.rowsInserted).toBe(6000);
    expect(await rowHashes(db.target, 'public.cs_run')).toEqual(await rowHashes(db.source, 'public.wide'));
    // ~1.2 kB per row: 256 MiB holds ~220,000 of them, far fewer than a million.
    const chosen = Number(/planned run .*"chunkRows":(\d+)/.exec(log.lines.join('\n'))?.[1]);
    expect(chosen).toBeGreaterThan(150_000);
    expect(chosen).toBeLessThan(250_000);
  });

  it('pgferry plan says how many rows a chunk targets and why', async () => {
    const dir = tempDir();
    const file = join(dir, 'wide.yaml');
    await writeFile(
      file,
      `name: cs_plan
source: {type: postgres, connection_type: url, connection_id: "${db.sourceUrl}", table: {schema: public, name: wide}}
sink: {type: postgres, connection_type: url, connection_id: "${db.targetUrl}", table: {schema: public, name: cs_plan}, strategy: {mode: full_refresh}}
`,
    );
    const planned = await cli('plan', file);
    expect(planned.stderr.join('\n')).toBe('');
    expect(planned.code).toBe(0);
    expect(planned.stdout.join('\n')).toMatch(/-- chunks: 1 on id \(bigint\), [0-9,]+ rows per chunk \(default; ~1,[12][0-9]{2} bytes per row as stored\)/);
  });
});

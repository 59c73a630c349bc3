import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../lib/local/runner.ts';
import { applyStrategy } from '../../lib/sink/strategies/index.ts';
import { stagedKeysUnique } from '../../lib/source/unique-key.ts';
import type { RunPlan } from '../../lib/state/types.ts';
import { cli } from '../helpers/cli.ts';
import { recorder } from '../helpers/log.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { rowHashes } from '../helpers/compare.ts';
import { tempDir } from '../helpers/temp.ts';

const SOURCE_DDL = `
CREATE TABLE public.events (id bigint PRIMARY KEY, k integer NOT NULL, v text, updated_at timestamptz(6));
INSERT INTO public.events SELECT g, g % 10, 'v' || g, timestamptz '2026-06-03 12:00:00+00' + g * interval '1 second' FROM generate_series(1, 1000) g;
CREATE TABLE public.loose (id bigint, v text, updated_at timestamptz(6));
CREATE UNIQUE INDEX loose_id ON public.loose (id);
CREATE TABLE public.parent (id bigint PRIMARY KEY, v text);
CREATE TABLE public.child () INHERITS (public.parent);
INSERT INTO public.loose SELECT id, v, updated_at FROM public.events`;

const targetDdl = (name: string): string => `CREATE TABLE public.${name} (id bigint PRIMARY KEY, k integer, v text, updated_at timestamptz(6))`;

const SKIPPED = /staged keys cannot repeat: no duplicate-key check/;

describe('Feature: the duplicate-key check is skipped where the staged keys cannot repeat', () => {
  const db = useSourceAndTarget(SOURCE_DDL);

  const pipeline = (name: string, options: Record<string, unknown>, strategy: Record<string, unknown> = {}) =>
    pipelineConfig(db.sourceUrl, db.targetUrl, {
      name,
      source: { table: { schema: 'public', name: 'events' } },
      options: { incremental_strategy: 'column', incremental_column: 'updated_at', ...options },
      sink: { table: { schema: 'public', name } },
      strategy: { mode: 'incremental_merge', merge_policy: 'upsert', unique_key: ['id'], ...strategy },
    });

  it('a source primary key read in chunks split on it: no check, and the target equals the source', async () => {
    await db.target.query(targetDdl('sk_chunks'));
    await db.target.query(`INSERT INTO public.sk_chunks VALUES (1, 0, 'stale', now())`);
    const log = recorder();

    const summary = await runLocal(pipeline('sk_chunks', { chunk_rows: 150 }), { log });

    expect(summary.error).toBeUndefined();
    expect(summary).toMatchObject({ status: 'succeeded', chunks: expect.any(Number) });
    expect(summary.chunks).toBeGreaterThan(1);
    expect(log.lines.join('\n')).toMatch(SKIPPED);
    expect(log.lines.join('\n')).toMatch(/"sourceIndex":"events_pkey","targetIndex":"sk_chunks_pkey"/);
    expect(await rowHashes(db.target, 'public.sk_chunks')).toEqual(await rowHashes(db.source, 'public.events'));
    // `pgferry plan` says so.
    const file = join(tempDir(), 'sk_chunks.yaml');
    await writeFile(
      file,
      `name: sk_chunks
source: {type: postgres, connection_type: url, connection_id: "${db.sourceUrl}", table: {schema: public, name: events}, options: {incremental_strategy: column, incremental_column: updated_at, chunk_rows: 150}}
sink: {type: postgres, connection_type: url, connection_id: "${db.targetUrl}", table: {schema: public, name: sk_chunks}, strategy: {mode: incremental_merge, merge_policy: upsert, unique_key: [id]}}
`,
    );
    const planned = await cli('plan', file);
    expect(planned.code).toBe(0);
    expect(planned.stdout.join('\n')).toContain(
      '-- duplicate keys: cannot occur (unique index events_pkey on the source, sk_chunks_pkey on the target); no check',
    );
  });

  it('checks the keys when chunks split on another column, the key may be NULL, or the target has no unique index on it', async () => {
    const plan = (tables: { source: string; target: string }, chunks: { count: number; column?: string }) =>
      stagedKeysUnique(
        { source: db.source, target: db.target },
        { source: { schema: 'public', name: tables.source }, target: { schema: 'public', name: tables.target }, targetExists: true },
        ['id'],
        chunks,
      );
    await db.target.query(targetDdl('sk_target'));
    await db.target.query(`CREATE TABLE public.sk_no_index (id bigint NOT NULL, v text)`);

    expect(await plan({ source: 'events', target: 'sk_target' }, { count: 4, column: 'id' })).toEqual({
      sourceIndex: 'events_pkey',
      targetIndex: 'sk_target_pkey',
    });
    expect(await plan({ source: 'events', target: 'sk_target' }, { count: 1 })).toBeDefined();
    // A row whose k changed between two chunks' snapshots could be read by both.
    expect(await plan({ source: 'events', target: 'sk_target' }, { count: 4, column: 'k' })).toBeUndefined();
    // A unique index lets NULL keys repeat.
    expect(await plan({ source: 'loose', target: 'sk_target' }, { count: 1 })).toBeUndefined();
    expect(await plan({ source: 'events', target: 'sk_no_index' }, { count: 1 })).toBeUndefined();
    // An inheritance parent's primary key does not cover its children.
    expect(await plan({ source: 'parent', target: 'sk_target' }, { count: 1 })).toBeUndefined();

    await db.target.query(targetDdl('sk_other_column'));
    const log = recorder();
    const summary = await runLocal(pipeline('sk_other_column', { chunk_rows: 150, chunk_column: 'k' }), { log });
    expect(summary.error).toBeUndefined();
    expect(summary.chunks).toBeGreaterThan(1);
    expect(log.lines.join('\n')).not.toMatch(SKIPPED);
    expect(await rowHashes(db.target, 'public.sk_other_column')).toEqual(await rowHashes(db.source, 'public.events'));
  });

  it.each([
    ['upsert', { merge_policy: 'upsert' }, '21000'],
    ['delete_insert', { merge_policy: 'delete_insert' }, '23505'],
    ['an empty target', { merge_policy: 'delete_insert' }, '23505'],
  ])("%s: a duplicate that slips in anyway fails on the target's unique index, and nothing is written", async (label, strategy, code) => {
    const name = `sk_backstop_${label.replace(/\W/g, '_')}`;
    await db.target.query(targetDdl(name));
    if (label === 'delete_insert') {
      // A trigger keeps delete_insert on DELETE + INSERT (not in place), a row keeps the target from being empty.
      await db.target.query(`CREATE FUNCTION public.${name}_nothing() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'`);
      await db.target.query(`CREATE TRIGGER watch AFTER TRUNCATE ON public.${name} FOR EACH STATEMENT EXECUTE FUNCTION public.${name}_nothing()`);
    }
    if (label !== 'an empty target') await db.target.query(`INSERT INTO public.${name} VALUES (-1, 0, 'kept', now())`);
    const before = await rowHashes(db.target, `public.${name}`);
    const staging = { schema: 'public', name: `${name}_staged` };
    await db.target.query(`CREATE TABLE public.${name}_staged (id bigint, k integer, v text, updated_at timestamptz(6));
      INSERT INTO public.${name}_staged VALUES (7, 1, 'one', now()), (7, 2, 'two', now())`);
    const config = pipeline(name, {}, strategy);
    const columns = [
      { name: 'id', type: 'bigint' },
      { name: 'k', type: 'integer' },
      { name: 'v', type: 'text' },
      { name: 'updated_at', type: 'timestamp(6) with time zone' },
    ];
    const plan = {
      columns,
      staging: { ...staging, doneName: 'unused' },
      targetExists: true,
      window: { strategy: 'column', full: true, lower: null, upper: null, cursorAfter: null },
      targetColumns: columns.map((c) => ({ ...c, notNull: c.name === 'id' })),
      stagedKeysUnique: { sourceIndex: 'events_pkey', targetIndex: `${name}_pkey` },
    } as unknown as RunPlan;

    await db.target.query('BEGIN');
    try {
      await expect(applyStrategy({ db: db.target, config, plan, staging, stagedRows: 2, cursorBefore: null, log: recorder() })).rejects.toMatchObject({ code });
    } finally {
      await db.target.query('ROLLBACK');
    }
    expect(await rowHashes(db.target, `public.${name}`)).toEqual(before);
  });
});

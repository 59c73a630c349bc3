import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { runLocal } from '../../lib/local/runner.ts';
import { startSourceAndTarget, type TestPostgres } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { rowHashes } from '../helpers/compare.ts';

const SOURCE_DDL = `
CREATE TABLE public.items (id bigint, parent bigint, code text, slot int4range, qty int, note text);
INSERT INTO public.items SELECT g, CASE WHEN g > 1 THEN g - 1 END, 'c' || g, int4range(g * 10, g * 10 + 5), g % 7, 'note ' || g
FROM generate_series(1, 6000) g;
ANALYZE public.items`;

// Everything a DBA may have put on the target that truncate_insert must give back after rebuilding.
const TARGET_DDL = `
CREATE TABLE public.items (id bigint NOT NULL, parent bigint, code text NOT NULL, slot int4range, qty int, note text);
ALTER TABLE public.items ADD CONSTRAINT items_pkey PRIMARY KEY (id) WITH (fillfactor = 80);
ALTER TABLE public.items ADD CONSTRAINT items_code_key UNIQUE (code) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE public.items ADD CONSTRAINT items_slot_excl EXCLUDE USING gist (slot WITH &&);
CREATE INDEX items_qty_partial ON public.items (qty) WHERE qty > 3;
CREATE INDEX items_lower_note ON public.items (lower(note) text_pattern_ops DESC NULLS LAST);
CREATE UNIQUE INDEX items_code_id ON public.items (code, id) INCLUDE (qty);
CREATE INDEX "Items ""Odd"" Name" ON public.items (parent);
COMMENT ON INDEX public.items_qty_partial IS 'partial: big quantities';
COMMENT ON CONSTRAINT items_code_key ON public.items IS 'codes are unique';
COMMENT ON INDEX public.items_code_key IS 'index behind the code key';
ALTER TABLE public.items REPLICA IDENTITY USING INDEX items_code_id;
ALTER TABLE public.items CLUSTER ON items_lower_note`;

/** What the target's indexes look like, OIDs aside. */
const INDEX_FINGERPRINT = `
SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS def, i.indisreplident AS replident, i.indisclustered AS clustered,
  obj_description(i.indexrelid, 'pg_class') AS comment, k.conname AS constraint, pg_get_constraintdef(k.oid) AS condef,
  obj_description(k.oid, 'pg_constraint') AS concomment, ic.reloptions AS options, c.relreplident AS table_replident
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
WHERE i.indrelid = $1::regclass
UNION ALL
SELECT 'not null ' || attname, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM pg_attribute
WHERE attrelid = $1::regclass AND attnum > 0 AND attnotnull
ORDER BY 1`;

describe('Feature: truncate_insert builds the indexes after the load', () => {
  let server: TestPostgres;
  let sourceUrl: string;
  let targetUrl: string;
  let source: pg.Client;
  let target: pg.Client;
  const role = `pgferry_loader_${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    ({ server, sourceUrl, targetUrl, source, target } = await startSourceAndTarget());
    await source.query(SOURCE_DDL);
  });

  afterAll(async () => {
    await target?.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await target?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await server?.stop();
  });

  const oids = async (table: string): Promise<Record<string, number>> => {
    const result = await target.query(`SELECT indexrelid::regclass::text AS name, indexrelid::int8 AS oid FROM pg_index WHERE indrelid = $1::regclass`, [
      table,
    ]);
    return Object.fromEntries(result.rows.map((r: { name: string; oid: string }) => [r.name, Number(r.oid)]));
  };

  it('drops and rebuilds every index and constraint index, giving back names, definitions, comments, replica identity and CLUSTER ON', async () => {
    await target.query(TARGET_DDL);
    await target.query(`INSERT INTO public.items (id, code) VALUES (-1, 'stale')`);
    const before = (await target.query(INDEX_FINGERPRINT, ['public.items'])).rows;
    const oidsBefore = await oids('public.items');
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'rebuild',
      source: { table: { schema: 'public', name: 'items' } },
      options: { chunk_rows: 2500 },
      sink: { table: { schema: 'public', name: 'items' } },
    });

    const summary = await runLocal(config);

    expect(summary.error).toBeUndefined();
    expect(summary).toMatchObject({ status: 'succeeded', rowsInserted: 6000, rowsDeleted: 1 });
    expect(await rowHashes(target, 'public.items')).toEqual(await rowHashes(source, 'public.items'));
    expect((await target.query(INDEX_FINGERPRINT, ['public.items'])).rows).toEqual(before);
    const oidsAfter = await oids('public.items');
    expect(Object.keys(oidsAfter).sort()).toEqual(Object.keys(oidsBefore).sort());
    for (const [name, oid] of Object.entries(oidsBefore)) expect(oidsAfter[name], `${name} was rebuilt`).not.toBe(oid);
    // The rebuilt constraints still hold.
    await expect(target.query(`INSERT INTO public.items (id, code) VALUES (1, 'fresh')`)).rejects.toMatchObject({ code: '23505' });
    await expect(target.query(`INSERT INTO public.items (id, code, slot) VALUES (9000001, 'fresh', int4range(10, 12))`)).rejects.toMatchObject({
      code: '23P01',
    });
  });

  it('keeps, and maintains row by row, an index a foreign key depends on or one with a statistics target', async () => {
    await target.query(`CREATE TABLE public.tree (id bigint PRIMARY KEY, parent bigint REFERENCES public.tree (id), code text, qty int, note text, slot int4range);
      CREATE INDEX tree_expr ON public.tree ((qty * 2)); ALTER INDEX public.tree_expr ALTER COLUMN 1 SET STATISTICS 500;
      CREATE INDEX tree_code ON public.tree (code)`);
    const before = await oids('public.tree');
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'kept',
      source: { query: 'SELECT id, parent, code, qty, note, slot FROM public.items', table: undefined },
      options: { chunk_column: 'id', chunk_rows: 2500 },
      sink: { table: { schema: 'public', name: 'tree' } },
    });

    const summary = await runLocal(config);

    expect(summary.error).toBeUndefined();
    expect(summary.rowsInserted).toBe(6000);
    const after = await oids('public.tree');
    expect(after['tree_pkey']).toBe(before['tree_pkey']);
    expect(after['tree_expr']).toBe(before['tree_expr']);
    expect(after['tree_code']).not.toBe(before['tree_code']);
    const fk = await target.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'public.tree'::regclass AND contype = 'f'`);
    expect(fk.rows[0].n).toBe(1);
  });

  it('a duplicate that fails a rebuilt unique index rolls everything back: rows, indexes and cursor as they were', async () => {
    const fingerprint = (await target.query(INDEX_FINGERPRINT, ['public.items'])).rows;
    const rows = await rowHashes(target, 'public.items');
    const oidsBefore = await oids('public.items');
    await source.query(`UPDATE public.items SET code = 'c1' WHERE id = 2`);
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'rebuild',
      source: { table: { schema: 'public', name: 'items' } },
      options: { chunk_rows: 2500 },
      sink: { table: { schema: 'public', name: 'items' } },
    });
    try {
      const summary = await runLocal(config);

      expect(summary.status).toBe('failed');
      expect(summary.error?.message).toMatch(/items_code_key/);
      expect(await rowHashes(target, 'public.items')).toEqual(rows);
      expect((await target.query(INDEX_FINGERPRINT, ['public.items'])).rows).toEqual(fingerprint);
      expect(await oids('public.items')).toEqual(oidsBefore);
    } finally {
      await source.query(`UPDATE public.items SET code = 'c2' WHERE id = 2`);
    }
  });

  it('a role that does not own the target (TRUNCATE and INSERT granted) loads with the indexes left in place', async () => {
    await target.query(`CREATE TABLE public.granted (LIKE public.items INCLUDING ALL)`);
    await target.query(`CREATE ROLE ${role} LOGIN PASSWORD 'loader'`);
    await target.query(`GRANT SELECT, INSERT, TRUNCATE ON public.granted TO ${role};
      GRANT ALL ON SCHEMA pgferry, pgferry_staging TO ${role};
      GRANT ALL ON ALL TABLES IN SCHEMA pgferry TO ${role};
      GRANT ALL ON ALL SEQUENCES IN SCHEMA pgferry TO ${role}`);
    const before = await oids('public.granted');
    const url = new URL(targetUrl);
    url.username = role;
    url.password = 'loader';
    const config = pipelineConfig(sourceUrl, url.toString(), {
      name: 'granted',
      source: { table: { schema: 'public', name: 'items' } },
      sink: { table: { schema: 'public', name: 'granted' } },
    });

    const summary = await runLocal(config);

    expect(summary.error).toBeUndefined();
    expect(summary.rowsInserted).toBe(6000);
    expect(await oids('public.granted')).toEqual(before);
    expect(await rowHashes(target, 'public.granted')).toEqual(await rowHashes(source, 'public.items'));
  });
});

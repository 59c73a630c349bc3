import { describe, expect, it } from 'vitest';
import { usableCursor, xminPredicate } from '../../lib/source/window.ts';
import { appendSql, deleteInsertSql, findDuplicateKeySql, keyMatch, replaceInPlaceSql, upsertSql } from '../../lib/sql/merge.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';

const E = 2n ** 32n;

describe('Function: xminPredicate', () => {
  it('is one half-open range within an epoch', () => {
    expect(xminPredicate(5n * E + 1000n, 5n * E + 2000n)).toEqual({ full: false, predicate: 'xmin::text::bigint >= 1000 AND xmin::text::bigint < 2000' });
  });
  it('splits a window that wraps the 32-bit counter once, skipping the special xids 0-2', () => {
    const w = xminPredicate(6n * E - 10n, 6n * E + 50n);
    expect(w.full).toBe(false);
    expect(w.predicate).toBe(`xmin::text::bigint >= ${E - 10n} OR (xmin::text::bigint >= 3 AND xmin::text::bigint < 50)`);
  });
  it('never starts a window below the first normal xid', () => {
    expect(xminPredicate(7n * E, 7n * E + 10n).predicate).toBe('xmin::text::bigint >= 3 AND xmin::text::bigint < 10');
  });
  it('falls back to a full extraction past one epoch or when the bound went backwards', () => {
    expect(xminPredicate(1n * E, 2n * E + 1n).full).toBe(true);
    expect(xminPredicate(1n * E, 2n * E).full).toBe(true);
    expect(xminPredicate(9n * E, 2n * E).full).toBe(true);
  });
  it('is empty, not full, when nothing committed in between', () => {
    expect(xminPredicate(E + 5n, E + 5n)).toEqual({ full: false, predicate: 'xmin::text::bigint >= 5 AND xmin::text::bigint < 5' });
  });
});

describe('Function: usableCursor', () => {
  const column = pipelineConfig('postgres://u@h/a', 'postgres://u@h/b', {
    options: { incremental_strategy: 'column', incremental_column: 'updated_at' },
    strategy: { mode: 'incremental_merge', unique_key: ['id'] },
  });
  it('takes a column cursor of the same column, value as text', () => {
    expect(
      usableCursor(column, { strategy: 'column', column: 'updated_at', type: 'timestamp with time zone', value: '2026-06-03 12:00:00.000001+00' }),
    ).toMatchObject({ value: '2026-06-03 12:00:00.000001+00' });
  });
  it('ignores a cursor of another column or strategy (the next run extracts everything)', () => {
    expect(usableCursor(column, { strategy: 'column', column: 'created_at', value: 'x' })).toBeUndefined();
    expect(usableCursor(column, { strategy: 'xmin', xmin: '5' })).toBeUndefined();
    expect(usableCursor(column, null)).toBeUndefined();
  });
});

describe('Function: keyMatch', () => {
  it('uses = for NOT NULL target columns (index-friendly) and a NULL-safe form otherwise, never ::text', () => {
    const sql = keyMatch(
      [
        { name: 'id', notNull: true },
        { name: 'Order', notNull: false },
      ],
      't',
      's',
    );
    expect(sql).toBe('t."id" = s."id" AND (t."Order" = s."Order" OR (t."Order" IS NULL AND s."Order" IS NULL))');
    expect(sql).not.toContain('::text');
  });
});

describe('SQL of the merge strategies', () => {
  const target = { schema: 'dw', name: 'orders' };
  const staging = { schema: 'pgferry_staging', name: 'orders_x' };
  const columns = [
    { name: 'id', type: 'bigint' },
    { name: 'v', type: 'text' },
  ];
  it('delete_insert deletes a single-column key through an index-friendly ANY(ARRAY(...)), then inserts in key order', () => {
    const [del, ins] = deleteInsertSql(target, staging, columns, [{ name: 'id', notNull: true }], { stagedRows: 50_000 });
    expect(del).toBe(
      'DELETE FROM "dw"."orders" AS t WHERE t."id" = ANY (ARRAY(SELECT DISTINCT "id" FROM "pgferry_staging"."orders_x" WHERE "id" IS NOT NULL))',
    );
    expect(ins).toBe('INSERT INTO "dw"."orders" ("id", "v") SELECT "id", "v" FROM "pgferry_staging"."orders_x" ORDER BY "id"');
  });
  it('delete_insert joins on the key for many staged rows or composite keys, NULL-safe for nullable columns', () => {
    const [del] = deleteInsertSql(target, staging, columns, [{ name: 'id', notNull: true }], { stagedRows: 5_000_000 });
    expect(del).toBe('DELETE FROM "dw"."orders" AS t USING (SELECT DISTINCT "id" FROM "pgferry_staging"."orders_x") AS s WHERE t."id" = s."id"');
    const composite = deleteInsertSql(target, staging, columns, [
      { name: 'id', notNull: true },
      { name: 'v', notNull: false },
    ]);
    expect(composite).toHaveLength(3);
    expect(composite[2]).toMatch(/ORDER BY "id", "v"$/);
    expect(composite[1]).toContain('(t."v" = s."v" OR (t."v" IS NULL AND s."v" IS NULL))');
    const nullableSingle = deleteInsertSql(target, staging, columns, [{ name: 'id', notNull: false }], { stagedRows: 10 });
    expect(nullableSingle[1]).toBe(
      'DELETE FROM "dw"."orders" AS t WHERE t."id" IS NULL AND EXISTS (SELECT 1 FROM "pgferry_staging"."orders_x" AS s WHERE s."id" IS NULL)',
    );
  });
  it('upsert updates every non-key column on conflict, taking the staged rows in key order', () => {
    expect(upsertSql(target, staging, columns, ['id'])).toContain(
      'FROM "pgferry_staging"."orders_x" ORDER BY "id" ON CONFLICT ("id") DO UPDATE SET "v" = EXCLUDED."v"',
    );
  });
  it('delete_insert in place sets unstaged target columns from EXCLUDED and counts replaced rows', () => {
    const sql = replaceInPlaceSql(target, staging, columns, ['id'], ['loaded_at'], { returningOld: true });
    expect(sql).toContain('ON CONFLICT ("id") DO UPDATE SET "v" = EXCLUDED."v", "loaded_at" = EXCLUDED."loaded_at" RETURNING old."id" IS NOT NULL AS replaced');
    expect(sql).toContain('count(*) FILTER (WHERE replaced) AS replaced FROM merged');
    expect(replaceInPlaceSql(target, staging, [{ name: 'id', type: 'bigint' }], ['id'], [], { returningOld: false })).toContain(
      `ON CONFLICT ("id") DO NOTHING RETURNING xmax::text <> '0' AS replaced`,
    );
  });
  it('duplicate detection groups NULL keys together', () => {
    expect(findDuplicateKeySql(staging, ['id'])).toContain('GROUP BY "id" HAVING count(*) > 1');
  });
  it('plain append without a previous cursor inserts everything', () => {
    expect(appendSql(target, staging, columns, new Map(), undefined, undefined)).toBe(
      'INSERT INTO "dw"."orders" ("id", "v") SELECT "id", "v" FROM "pgferry_staging"."orders_x"',
    );
  });
  it('plain append compares overlap rows as whole rows in the target types', () => {
    const sql = appendSql(
      target,
      staging,
      columns,
      new Map([
        ['id', 'bigint'],
        ['v', 'character varying(10)'],
      ]),
      { cursor: { name: 'id', type: 'bigint' }, before: '10', lower: '10' },
      undefined,
    );
    expect(sql).toContain(`s."v"::character varying(10)`);
    expect(sql).toContain(`t."id" >= '10'::bigint AND t."id" <= '10'::bigint`);
  });
});

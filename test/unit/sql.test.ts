import { describe, expect, it } from 'vitest';
import { ident, literal, qualified } from '../../lib/sql/quote.ts';
import { chunkPredicate, copyToSql, sourceSelect } from '../../lib/sql/extract.ts';
import { createStagingSql } from '../../lib/sql/ddl.ts';
import { stagingNames, truncateBytes } from '../../lib/sink/staging.ts';

describe('Function: ident', () => {
  it('doubles embedded double quotes', () => {
    expect(ident('Weird "T"; DROP TABLE canary;--')).toBe('"Weird ""T""; DROP TABLE canary;--"');
  });
  it('refuses a NUL character', () => {
    expect(() => ident('a\u0000b')).toThrow(/NUL/);
  });
  it('qualifies schema and name separately', () => {
    expect(qualified({ schema: 'My Schema', name: 'x.y' })).toBe('"My Schema"."x.y"');
  });
});

describe('Function: literal', () => {
  it('doubles single quotes and leaves backslashes alone (standard_conforming_strings is pinned on)', () => {
    expect(literal("it's \\ fine")).toBe("'it''s \\ fine'");
  });
});

describe('Function: chunkPredicate', () => {
  const column = { name: 'Order', type: 'bigint' };
  it('puts NULLs in the first chunk, which is open below', () => {
    expect(chunkPredicate(column, { lower: null, upper: '10' })).toBe(`"Order" IS NULL OR "Order" < '10'::bigint`);
  });
  it('is half-open in the middle', () => {
    expect(chunkPredicate(column, { lower: '10', upper: '20' })).toBe(`"Order" >= '10'::bigint AND "Order" < '20'::bigint`);
  });
  it('is open above in the last chunk', () => {
    expect(chunkPredicate(column, { lower: '20', upper: null })).toBe(`"Order" >= '20'::bigint`);
  });
  it('is absent for a single chunk', () => {
    expect(chunkPredicate(column, { lower: null, upper: null })).toBeUndefined();
  });
  it('quotes bound values as literals', () => {
    expect(chunkPredicate({ name: 'k', type: 'text' }, { lower: "a'); DROP TABLE x;--", upper: null })).toBe(`"k" >= 'a''); DROP TABLE x;--'::text`);
  });
});

describe('Function: sourceSelect', () => {
  it('parenthesises every predicate so a raw OR cannot escape the chunk range', () => {
    const sql = sourceSelect({ table: { schema: 'public', name: 'orders' } }, ['id'], ['a = 1 OR b = 2', '"id" < 5']);
    expect(sql).toBe('SELECT "id" FROM "public"."orders" WHERE (a = 1 OR b = 2) AND ("id" < 5)');
  });
  it('wraps a query source so outer predicates can name its columns', () => {
    expect(copyToSql(sourceSelect({ query: 'SELECT 1 AS x -- trailing comment' }, ['x'], ['"x" > 0']))).toBe(
      'COPY (SELECT "x" FROM (SELECT 1 AS x -- trailing comment\n) AS "pgferry_source" WHERE ("x" > 0)) TO STDOUT (FORMAT binary)',
    );
  });
});

describe('Function: stagingNames', () => {
  const long = 'ü'.repeat(31) + 'x'; // 63 bytes
  it('stays within 63 bytes for the longest target names, done table included', () => {
    const names = stagingNames('p', 'run-1', { schema: 's', name: long });
    expect(Buffer.byteLength(names.name)).toBeLessThanOrEqual(63);
    expect(Buffer.byteLength(names.doneName)).toBeLessThanOrEqual(63);
  });
  it('differs between runs and between pipelines even when the target name is cut', () => {
    const a = stagingNames('p', 'run-1', { schema: 's', name: long });
    const b = stagingNames('p', 'run-2', { schema: 's', name: long });
    const c = stagingNames('q', 'run-1', { schema: 's', name: long });
    expect(new Set([a.name, b.name, c.name]).size).toBe(3);
  });
  it('never splits a multi-byte character', () => {
    expect(truncateBytes('aü', 2)).toBe('a');
  });
});

describe('Function: createStagingSql', () => {
  it('creates staging and done tables with the same persistence', () => {
    const sql = createStagingSql({ schema: 'st', name: 'a' }, { schema: 'st', name: 'a_done' }, [{ name: 'id', type: 'bigint' }], {
      pipeline: 'p',
      runId: 'r',
      logged: false,
    });
    expect(sql.filter((s) => s.startsWith('CREATE UNLOGGED TABLE'))).toHaveLength(2);
    const logged = createStagingSql({ schema: 'st', name: 'a' }, { schema: 'st', name: 'a_done' }, [{ name: 'id', type: 'bigint' }], {
      pipeline: 'p',
      runId: 'r',
      logged: true,
    });
    expect(logged.some((s) => s.includes('UNLOGGED'))).toBe(false);
  });
});

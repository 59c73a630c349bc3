/**
 * Chunk bounds of a selective window (an incremental run): sized from a second, larger sample where the first
 * one says a few percent of the table's pages will hold enough matching rows, instead of reading every
 * matching row; from every matching row where it cannot tell.
 */
import { describe, expect, it, vi } from 'vitest';
import { planChunks } from '../../lib/source/chunks.ts';
import type { ChunkBounds } from '../../lib/sql/extract.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';

const ROWS = 1_000_000;
// Narrow rows in key order; the windows below are spread over every page, like scattered updates.
const SOURCE_DDL = `
CREATE TABLE public.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
INSERT INTO public.events SELECT g, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' FROM generate_series(1, ${ROWS}) g;
ANALYZE public.events;`;

describe('Feature: chunk bounds of a selective window', () => {
  const db = useSourceAndTarget(SOURCE_DDL);

  async function plan(predicate: string, chunkRows: number): Promise<{ chunks: ChunkBounds[]; statements: string[] }> {
    const spy = vi.spyOn(db.source, 'query');
    try {
      const chunks = await planChunks(db.source, {
        source: { table: { schema: 'public', name: 'events' } },
        predicates: [predicate],
        chunkColumn: { name: 'id', type: 'bigint' },
        chunkRows,
        estimatedRows: ROWS,
      });
      const statements = spy.mock.calls.map((c) => String(typeof c[0] === 'string' ? c[0] : (c[0] as { text: string }).text));
      return { chunks, statements };
    } finally {
      spy.mockRestore();
    }
  }

  /** Matching rows in each chunk, counted exactly. */
  async function rowsPerChunk(predicate: string, chunks: ChunkBounds[]): Promise<number[]> {
    const counts: number[] = [];
    for (const c of chunks) {
      const where = [predicate, ...(c.lower === null ? [] : [`id >= ${c.lower}`]), ...(c.upper === null ? [] : [`id < ${c.upper}`])];
      counts.push(Number((await db.source.query(`SELECT count(*) AS n FROM public.events WHERE ${where.join(' AND ')}`)).rows[0].n));
    }
    return counts;
  }

  it('a window of 200,000 rows in 1,000,000, chunks of 80,000: three balanced chunks from a larger sample, no full read', async () => {
    const predicate = 'id % 5 = 3';
    // 2.5 chunks' worth: an estimate a few percent off still makes 3.
    const { chunks, statements } = await plan(predicate, 80_000);
    expect(chunks).toHaveLength(3);
    // The first sample (2% of the pages) held ~4,000 matching rows; the second reads ~3.75%.
    const samples = statements.filter((s) => /TABLESAMPLE SYSTEM/.test(s)).map((s) => Number(/TABLESAMPLE SYSTEM \(([0-9.e-]+)\)/.exec(s)?.[1]));
    expect(samples.length).toBeGreaterThanOrEqual(2);
    expect(samples[0]).toBeCloseTo(2, 5);
    expect(Math.max(...samples)).toBeGreaterThan(2);
    expect(Math.max(...samples)).toBeLessThanOrEqual(5);
    expect(statements.filter((s) => /\bFROM "public"\."events" WHERE/.test(s))).toEqual([]);
    const counts = await rowsPerChunk(predicate, chunks);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(ROWS / 5);
    for (const n of counts) expect(Math.abs(n - ROWS / 15)).toBeLessThan(ROWS / 15 / 10);
  });

  it('a window too small for a larger sample to pay (it would read 75% of the pages) is read in full: exactly 4 chunks of 2,500', async () => {
    const predicate = 'id % 100 = 3';
    const { chunks, statements } = await plan(predicate, 2_500);
    expect(statements.some((s) => /SELECT count\(\*\) AS n FROM \(SELECT "id" FROM "public"\."events" WHERE/.test(s))).toBe(true);
    expect(chunks).toHaveLength(4);
    const counts = await rowsPerChunk(predicate, chunks);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(ROWS / 100);
    // Bounds from every matching row: as even as distinct keys allow.
    for (const n of counts) expect(Math.abs(n - 2_500)).toBeLessThanOrEqual(1);
  });
});

import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS } from '../../lib/config/index.ts';
import { defaultChunkRows } from '../../lib/source/chunks.ts';

describe('Function: defaultChunkRows', () => {
  it('keeps 1,000,000 rows where a million rows fit the byte budget, or the width is unknown', () => {
    expect(defaultChunkRows(undefined)).toBe(1_000_000);
    expect(defaultChunkRows(0)).toBe(1_000_000);
    expect(defaultChunkRows(Number.NaN)).toBe(1_000_000);
    // The bench's orders rows: ~205 bytes as stored, 205 MB per million.
    expect(defaultChunkRows(205)).toBe(1_000_000);
  });

  it('gives wide rows as many rows as fill 256 MiB, and never less than one row', () => {
    expect(CONFIG_DEFAULTS.chunkBytes).toBe(256 * 1024 * 1024);
    expect(defaultChunkRows(8192)).toBe(32_768);
    expect(defaultChunkRows(300)).toBe(894_784);
    expect(defaultChunkRows(1e12)).toBe(1);
    expect(defaultChunkRows(1000, 1_000_000)).toBe(1000);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { demoCommand } from '../../lib/cli/commands/demo.ts';

describe('Command: pgferry demo', () => {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let code: number;
  /** The JSON line the demo prints last. */
  let result: { demo: string; changed: number; runs: { rows: number }[] };

  beforeAll(async () => {
    code = await demoCommand({ rows: 20_000 }, { out: (l) => stdout.push(l), err: (l) => stderr.push(l) });
    result = JSON.parse(stdout.at(-1) ?? '{}');
  });

  it('seeds, runs twice around a change of the source, and verifies both runs', () => {
    expect(stderr.filter((l) => l.includes('verify:'))).toHaveLength(2);
    expect(stderr.filter((l) => l.includes('IDENTICAL'))).toHaveLength(2);
    expect(code).toBe(0);
    expect(result.demo).toBe('passed');
    // 1% of 20,000 updated and 1% inserted; the second run reads those and the one row at the stored cursor
    // (the window's lower bound is inclusive), not the 20,200 rows of the table.
    expect(result.changed).toBe(400);
    expect(result.runs.map((r) => r.rows)).toEqual([20_000, 401]);
  });

  it('loads with an incremental merge on updated_at: the second run extracts about the changed rows, not the whole table', () => {
    const [first, second] = result.runs;
    expect(first?.rows).toBe(20_000);
    expect(second?.rows).toBeGreaterThanOrEqual(result.changed);
    expect(second?.rows).toBeLessThanOrEqual(result.changed + 1);
    expect(second?.rows).toBeLessThan(20_000 * 0.05);
    expect(stderr.filter((l) => l.includes('(incremental_merge / delete_insert)'))).toHaveLength(2);
    // The merge replaces the updated rows (and the row at the cursor) only, where a full refresh deleted all 20,000.
    expect(stderr.filter((l) => l.startsWith('  rows extracted ')).map((l) => l.replace(/ in \d+ chunk.*/, ''))).toEqual([
      '  rows extracted 20,000, inserted 20,000, deleted 0',
      '  rows extracted 401, inserted 401, deleted 201',
    ]);
    expect(stderr.find((l) => l.startsWith('  incremental:'))).toMatch(
      /^ {2}incremental: 401 rows extracted for 400 changed, of 20,200: those with updated_at in \[2026-01-01 [^,]+, 2026-01-01 [^\]]+\] \(from the stored cursor on, inclusive\), merged on id$/,
    );
  });
});

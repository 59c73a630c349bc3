import { describe, expect, it } from 'vitest';
import { demoCommand } from '../../lib/cli/commands/demo.ts';

describe('Command: pgferry demo', () => {
  it('seeds, runs twice around a change of the source, and verifies both runs', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await demoCommand({ rows: 20_000 }, { out: (l) => stdout.push(l), err: (l) => stderr.push(l) });
    expect(stderr.filter((l) => l.includes('verify:'))).toHaveLength(2);
    expect(stderr.filter((l) => l.includes('IDENTICAL'))).toHaveLength(2);
    expect(code).toBe(0);
    const result = JSON.parse(stdout.at(-1) ?? '{}');
    expect(result.demo).toBe('passed');
    expect(result.runs.map((r: { rows: number }) => r.rows)).toEqual([20_000, 20_100]);
  });
});

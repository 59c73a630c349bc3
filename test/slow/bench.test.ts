/**
 * `npm run bench`, end to end at a small scale: every scenario runs once against the plain COPY pipe, every
 * target ends up identical to its source, and results.json carries what the README reports (medians, ratios,
 * peak RSS, verdicts). It measures nothing: timings at 2,000 rows say nothing of speed (see `npm run bench`).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ROWS = 2_000;

interface Results {
  dataset: { table: string; rows: number };
  scenarios: Record<string, { rows: number; verified?: boolean; ratioToPipe?: number; peakRssMb?: number; chunks?: number; medianWallMs: number }>;
  verdicts: Record<string, { target: string; measured: string; pass: boolean }>;
  failed: Record<string, string>;
  disk: { sourceMb: number; targetMb: number; walMb: number | null };
  derived: { mergeFloor: { floorRatioToPipe: number | null; overFloor: Record<string, number>; floorGrowth: { ms: number[]; x: number[] } | null } | null };
  git: { commit?: string; dirty: boolean; changedDuringRuns: boolean };
}

async function bench(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env };
  // Against the tests' server when there is one; else the bench starts its own embedded server.
  if (process.env.PGFERRY_TEST_PG_URL) env.PGFERRY_BENCH_PG_URL = process.env.PGFERRY_TEST_PG_URL;
  else delete env.PGFERRY_BENCH_PG_URL;
  return promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: ROOT, env, maxBuffer: 64 * 2 ** 20 });
}

describe('npm run bench', () => {
  it.each(['orders', 'narrow', 'wide'])(
    `runs every scenario on ${ROWS.toLocaleString('en-US')} rows of %s, verifies every copy and writes the results`,
    async (table) => {
      const out = join(tempDir(), 'results.json');
      // --no-build: the other test files run bin/pgferry.js meanwhile, so dist/ must not be rewritten under them.
      const { stdout } = await bench([
        '--rows',
        String(ROWS),
        '--table',
        table,
        '--runs',
        '1',
        '--no-profile',
        '--no-pgloader',
        '--no-build',
        '--out',
        out,
        '--set',
        'shared_buffers=32MB',
        '--set',
        'fsync=off',
        '--set',
        'synchronous_commit=off',
      ]);
      const results = JSON.parse(await readFile(out, 'utf8')) as Results;

      expect(results.dataset).toMatchObject({ table, rows: ROWS });
      expect(results.failed).toEqual({});
      // Nothing edits lib/ or bin/ while the tests run: the figures come from one version of the code.
      expect(results.git.changedDuringRuns).toBe(false);
      const names = Object.keys(results.scenarios);
      expect(names).toEqual([
        'pipe',
        'exchange',
        'truncate_insert',
        'first_merge',
        'delete_insert_1pct',
        'upsert_1pct',
        'merge_floor_1pct',
        'delete_insert_0.1pct',
        'merge_floor_0.1pct',
        'delete_insert_10pct',
        'merge_floor_10pct',
        'delete_insert_nothing_changed',
        'delete_insert_same_rows_small_table',
        'truncate_insert_small',
        'overhead_many_chunks',
        'overhead_one_chunk',
        'cli_startup',
      ]);
      // Every scenario that copies a table left its target identical to its source (count and checksum).
      for (const name of names.filter((n) => n !== 'cli_startup')) expect(results.scenarios[name]?.verified, name).toBe(true);

      const s = results.scenarios;
      for (const name of ['exchange', 'truncate_insert', 'first_merge']) expect(s[name]?.rows, name).toBe(ROWS);
      // An incremental run reads the rows changed (every (100 / percent)-th key) and the one row at the previous
      // window's upper bound, which the inclusive lower bound reads again.
      expect(s['delete_insert_0.1pct']?.rows).toBe(ROWS / 1000 + 1);
      expect(s.delete_insert_1pct?.rows).toBe(ROWS / 100 + 1);
      expect(s.upsert_1pct?.rows).toBe(ROWS / 100 + 1);
      // The floors read above the target's greatest updated_at: exactly the changed rows.
      expect(s.merge_floor_1pct?.rows).toBe(ROWS / 100);
      expect(s['merge_floor_0.1pct']?.rows).toBe(ROWS / 1000);
      expect(s.merge_floor_10pct?.rows).toBe(ROWS / 10);
      expect(s.delete_insert_10pct?.rows).toBe(ROWS / 10 + 1);
      expect(s.delete_insert_same_rows_small_table?.rows).toBe(s['delete_insert_0.1pct']?.rows);
      // Nothing changed: only the row at the stored cursor (the window's inclusive lower bound) comes back.
      expect(s.delete_insert_nothing_changed?.rows).toBe(1);
      expect(s.truncate_insert_small?.rows).toBe(ROWS / 5);
      expect(s.overhead_many_chunks?.chunks).toBe(200);
      expect(s.overhead_one_chunk?.chunks).toBe(1);

      for (const name of names.filter((n) => n !== 'pipe' && n !== 'cli_startup')) {
        expect(s[name]?.ratioToPipe, name).toBeGreaterThan(0);
        expect(s[name]?.peakRssMb, name).toBeGreaterThan(0);
      }
      expect(Object.keys(results.verdicts).sort()).toEqual([
        'chunk_overhead',
        'delete_insert_1pct',
        'exchange',
        'growth',
        'not_the_table',
        'peak_rss',
        'rss_flat',
        'truncate_insert',
        'upsert_1pct',
      ]);
      for (const v of Object.values(results.verdicts)) expect(typeof v.pass).toBe('boolean');
      expect(results.derived.mergeFloor?.floorRatioToPipe).toBe(s.merge_floor_1pct?.ratioToPipe);
      expect(Object.keys(results.derived.mergeFloor?.overFloor ?? {})).toEqual(['delete_insert_1pct', 'upsert_1pct']);
      expect(results.derived.mergeFloor?.floorGrowth?.ms).toEqual(
        ['merge_floor_0.1pct', 'merge_floor_1pct', 'merge_floor_10pct'].map((n) => s[n]?.medianWallMs),
      );
      expect(stdout).toMatch(
        /^the 1% merges over their floor \(merge_floor_1pct: the same change merged without pgferry\): delete_insert_1pct [0-9.]+x, upsert_1pct [0-9.]+x; the floor alone is [0-9.]+x of the pipe; the floors at 0\.1% -> 1% -> 10%: [0-9.]+ -> [0-9.]+ -> [0-9.]+ s \(x[0-9.]+, x[0-9.]+\)$/m,
      );

      expect(results.disk.sourceMb).toBeGreaterThan(0);
      expect(results.disk.targetMb).toBeGreaterThan(0);

      // The printed table: a line per scenario, the verdicts, where the results went.
      for (const name of names) expect(stdout).toMatch(new RegExp(`^${name.replace('.', '\\.')}\\s`, 'm'));
      expect(stdout).toContain(`results: ${out}`);
      expect(stdout).not.toContain('VERIFY FAILED');
    },
    600_000,
  );

  it('refuses a bad option with the usage, before starting anything', async () => {
    const error = await bench(['--rows', 'many']).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(error?.code).toBe(2);
    expect(error?.stderr).toContain('--rows: expected a whole number >= 1, got "many"');
    expect(error?.stderr).toContain('npm run bench -- [--rows N]');
  });
});

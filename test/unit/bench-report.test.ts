/** The bench's judgement of the targets (bench/report.ts), its options (bench/options.ts) and its disk check. */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { SHAPES } from '../../bench/dataset.ts';
import { checkFreeDisk, diskNeed, peakCopies, settingBytes, WAL_COPIES } from '../../bench/disk.ts';
import { parseOptions, SERVER_SETTINGS } from '../../bench/options.ts';
import { median, mergeFloor, mergeFloorLine, summarize, verdicts, type ScenarioResult } from '../../bench/report.ts';
import type { Sample, Scenario } from '../../bench/scenario.ts';
import { allScenarios, selectScenarios } from '../../bench/scenarios.ts';

function result(name: string, medianWallMs: number, extra: Partial<ScenarioResult> = {}): ScenarioResult {
  return { name, description: '', kind: 'pgferry', runs: [], medianWallMs, rows: 1000, rowsPerSecond: 0, ...extra };
}

function judged(...results: ScenarioResult[]): ReturnType<typeof verdicts> {
  return verdicts(new Map(results.map((r) => [r.name, r])));
}

function scenario(name: string): Scenario {
  return { name, groups: [], description: '', kind: 'pgferry', tables: { source: 'a', target: 'b' } } as unknown as Scenario;
}

describe('bench verdicts', () => {
  it('judges each ratio against its own target, inclusive', () => {
    const v = judged(
      result('exchange', 0, { ratioToPipe: 1.0 }),
      result('truncate_insert', 0, { ratioToPipe: 1.51 }),
      result('delete_insert_1pct', 0, { ratioToPipe: 0.1 }),
      result('upsert_1pct', 0, { ratioToPipe: 0.11, netRatioToPipe: 0.09 }),
    );
    expect(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x.pass]))).toEqual({
      exchange: true,
      truncate_insert: false,
      delete_insert_1pct: true,
      upsert_1pct: false,
    });
    expect(v.upsert_1pct?.measured).toBe('0.11x (without start-up 0.09x)');
  });

  it('wants each tenfold of changed rows to multiply the time by at least 5', () => {
    const growth = (a: number, b: number, c: number) =>
      judged(result('delete_insert_0.1pct', a), result('delete_insert_1pct', b), result('delete_insert_10pct', c)).growth;
    expect(growth(100, 500, 2500)?.pass).toBe(true);
    expect(growth(100, 499, 2500)?.pass).toBe(false);
    expect(growth(890, 2880, 12100)).toEqual({
      target: 'time x>=5 per 10x changed rows (0.1% -> 1% -> 10%)',
      measured: '0.89 -> 2.88 -> 12.10 s (x3.2, x4.2)',
      pass: false,
    });
    // A run that finds nothing changed is subtracted in the text only; the verdict stays on the whole times.
    expect(
      judged(
        result('delete_insert_0.1pct', 890),
        result('delete_insert_1pct', 2880),
        result('delete_insert_10pct', 12100),
        result('delete_insert_nothing_changed', 450),
      ).growth,
    ).toEqual({
      target: 'time x>=5 per 10x changed rows (0.1% -> 1% -> 10%)',
      measured: '0.89 -> 2.88 -> 12.10 s (x3.2, x4.2); less the 0.45 s of a run with nothing changed: x5.5, x4.8',
      pass: false,
    });
    // Left out where the 0.1% run is hardly longer than the run with nothing changed (a small table).
    expect(
      judged(
        result('delete_insert_0.1pct', 470),
        result('delete_insert_1pct', 640),
        result('delete_insert_10pct', 910),
        result('delete_insert_nothing_changed', 460),
      ).growth?.measured,
    ).toBe('0.47 -> 0.64 -> 0.91 s (x1.4, x1.4)');
    // Not judged without all three.
    expect(judged(result('delete_insert_0.1pct', 1), result('delete_insert_1pct', 5)).growth).toBeUndefined();
  });

  it('wants the same changed rows to take about as long in a table five times larger', () => {
    const x = (small: number, big: number) =>
      judged(result('delete_insert_same_rows_small_table', small), result('delete_insert_0.1pct', big)).not_the_table?.pass;
    expect(x(780, 890)).toBe(true);
    expect(x(600, 900)).toBe(true);
    expect(x(600, 901)).toBe(false);
  });

  it('takes the worst peak RSS of any pgferry run, and compares the two table sizes within 10%', () => {
    const v = judged(
      result('truncate_insert', 0, { peakRssMb: 88, rows: 5_000_000 }),
      result('truncate_insert_small', 0, { peakRssMb: 80, rows: 1_000_000 }),
      result('exchange', 0, { peakRssMb: 151 }),
      result('pipe', 0, { kind: 'pipe', peakRssMb: 900 }),
    );
    expect(v.peak_rss).toMatchObject({ measured: '151 MB (exchange)', pass: false });
    expect(v.rss_flat).toMatchObject({ measured: '80 -> 88 MB (+10.0%)', pass: true });
    expect(judged(result('truncate_insert', 0, { peakRssMb: 89 }), result('truncate_insert_small', 0, { peakRssMb: 80 })).rss_flat?.pass).toBe(false);
  });

  it('divides the extra time of many chunks by their number', () => {
    const v = judged(result('overhead_many_chunks', 5230, { chunks: 200 }), result('overhead_one_chunk', 740, { chunks: 1 }));
    expect(v.chunk_overhead).toMatchObject({ measured: '22.4 ms (200 chunks, one at a time)', pass: true });
    expect(judged(result('overhead_many_chunks', 10740, { chunks: 200 }), result('overhead_one_chunk', 740)).chunk_overhead?.pass).toBe(false);
  });
});

describe('bench summaries', () => {
  it('takes ratios per round, then their median', () => {
    const pipe: Sample[] = [
      { wallMs: 10_000, rows: 1 },
      { wallMs: 20_000, rows: 1 },
      { wallMs: 40_000, rows: 1 },
    ];
    // Against the pipe's overall median (20 s) these would be 0.5x, 0.5x, 0.5x; per round they are 1x, 0.5x, 0.25x.
    const runs: Sample[] = [
      { wallMs: 10_000, rows: 5 },
      { wallMs: 10_000, rows: 5 },
      { wallMs: 10_000, rows: 5 },
    ];
    const startup: Sample[] = [
      { wallMs: 1_000, rows: 0 },
      { wallMs: 2_000, rows: 0 },
      { wallMs: 2_000, rows: 0 },
    ];
    const r = summarize(scenario('exchange'), runs, { pipe, startup }, true);
    expect(r.ratioToPipe).toBe(0.5);
    expect(r.netRatioToPipe).toBe(0.4);
    expect(r).toMatchObject({ medianWallMs: 10_000, rows: 5, rowsPerSecond: 0.5, verified: true });
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });

  it('leaves the ratio out when a round has no pipe run to compare with', () => {
    const r = summarize(
      scenario('exchange'),
      [
        { wallMs: 1, rows: 1 },
        { wallMs: 1, rows: 1 },
      ],
      { pipe: [{ wallMs: 1, rows: 1 }] },
      undefined,
    );
    expect(r.ratioToPipe).toBeUndefined();
    expect(r.verified).toBeUndefined();
  });
});

describe('bench merge floor', () => {
  const samples = (...ms: number[]): Sample[] => ms.map((wallMs) => ({ wallMs, rows: 1 }));

  it('divides each 1% merge by the floor of the same round, then takes the median', () => {
    const results = new Map<string, ScenarioResult>([
      // Median over median would be 2.5 / 2 = 1.25x and 2.2 / 2 = 1.1x; per round they are 1.5, 1.0, 2.0 and 1.1, 1.2, 1.4.
      ['merge_floor_1pct', result('merge_floor_1pct', 2000, { kind: 'pipe', runs: samples(2000, 2500, 1000), ratioToPipe: 0.08 })],
      ['delete_insert_1pct', result('delete_insert_1pct', 2500, { runs: samples(3000, 2500, 2000) })],
      ['upsert_1pct', result('upsert_1pct', 2200, { runs: samples(2200, 3000, 1400) })],
    ]);
    expect(mergeFloor(results)).toEqual({ floorRatioToPipe: 0.08, overFloor: { delete_insert_1pct: 1.5, upsert_1pct: 1.2 }, floorGrowth: null });
    expect(mergeFloorLine(mergeFloor(results))).toBe(
      'the 1% merges over their floor (merge_floor_1pct: the same change merged without pgferry): delete_insert_1pct 1.50x, upsert_1pct 1.20x; the floor alone is 0.080x of the pipe',
    );
  });

  it('shows how the floor itself grows from 0.1% to 1% to 10% changed, when all three ran', () => {
    const floors = (...ms: number[]) =>
      new Map<string, ScenarioResult>(
        ['merge_floor_0.1pct', 'merge_floor_1pct', 'merge_floor_10pct']
          .slice(0, ms.length)
          .map((n, i) => [n, result(n, ms[i] as number, { kind: 'pipe', runs: samples(ms[i] as number) })]),
      );
    expect(mergeFloor(floors(500, 2500, 7500))?.floorGrowth).toEqual({ ms: [500, 2500, 7500], x: [5, 3] });
    expect(mergeFloorLine(mergeFloor(floors(500, 2500, 7500)))).toBe(
      'the 1% merges over their floor (merge_floor_1pct: the same change merged without pgferry): -; the floors at 0.1% -> 1% -> 10%: 0.50 -> 2.50 -> 7.50 s (x5.0, x3.0)',
    );
    expect(mergeFloor(floors(500, 2500))?.floorGrowth).toBeNull();
  });

  it("says nothing without the 1% floor, and leaves out a merge whose rounds do not pair with the floor's", () => {
    const merge = result('delete_insert_1pct', 3000, { runs: samples(3000, 3000) });
    expect(mergeFloor(new Map([['delete_insert_1pct', merge]]))).toBeUndefined();
    expect(mergeFloorLine(mergeFloor(new Map([['delete_insert_1pct', merge]])))).toBeUndefined();
    const floor = result('merge_floor_1pct', 2000, { kind: 'pipe', runs: samples(2000) });
    expect(
      mergeFloor(
        new Map([
          ['merge_floor_1pct', floor],
          ['delete_insert_1pct', merge],
        ]),
      ),
    ).toEqual({ floorRatioToPipe: null, overFloor: {}, floorGrowth: null });
  });
});

describe('bench options', () => {
  it("defaults to the issue's table and the production-like server settings", () => {
    const o = parseOptions([], {});
    expect(o.shape).toBe(SHAPES.orders);
    expect(o).toMatchObject({ rows: 5_000_000, runs: 3, pipe: 'auto', profile: true, verify: true, pgloader: true, build: true, out: 'bench/results.json' });
    expect(o.settings).toEqual(SERVER_SETTINGS);
    expect(o.externalUrl).toBeUndefined();
  });

  it('reads every option and the external server', () => {
    const o = parseOptions(
      [
        '--rows',
        '1_000_000',
        '--table',
        'wide',
        '--runs',
        '5',
        '--only',
        'growth, exchange',
        '--pipe',
        'node',
        '--no-profile',
        '--no-verify',
        '--no-pgloader',
        '--no-build',
        '--out',
        'x.json',
        '--set',
        'fsync=off',
        '--set',
        'work_mem=64MB',
      ],
      { PGFERRY_BENCH_PG_URL: 'postgres://u:p@h:5432/postgres' },
    );
    expect(o).toMatchObject({
      rows: 1_000_000,
      runs: 5,
      only: ['growth', 'exchange'],
      pipe: 'pg-copy-streams',
      profile: false,
      verify: false,
      pgloader: false,
      build: false,
      out: 'x.json',
      externalUrl: 'postgres://u:p@h:5432/postgres',
    });
    expect(o.shape).toBe(SHAPES.wide);
    expect(o.settings).toMatchObject({ fsync: 'off', work_mem: '64MB', shared_buffers: SERVER_SETTINGS.shared_buffers });
  });

  it.each([
    [['--rows', '0'], '--rows: expected a whole number >= 1, got "0"'],
    [['--runs', '2.5'], '--runs: expected a whole number >= 1, got "2.5"'],
    [['--pipe', 'nc'], '--pipe: expected auto, psql or node, got "nc"'],
    [['--table', 'tall'], '--table: expected orders, narrow, wide, got "tall"'],
    [['--set', 'fsync'], '--set: expected key=value, got "fsync"'],
  ])('refuses %j with what is allowed and the usage', (argv, message) => {
    expect(() => parseOptions(argv, {})).toThrow(message);
    expect(() => parseOptions(argv, {})).toThrow('npm run bench -- [--rows N]');
  });
});

describe('bench disk check', () => {
  it('reads size settings as PostgreSQL does (MB without a unit)', () => {
    expect(settingBytes('4GB')).toBe(4 * 2 ** 30);
    expect(settingBytes('1024MB')).toBe(2 ** 30);
    expect(settingBytes('512')).toBe(512 * 2 ** 20);
    expect(settingBytes('64kB')).toBe(64 * 2 ** 10);
    expect(settingBytes('lots')).toBeUndefined();
  });

  it('needs the peak copies of the table the selected scenarios hold, plus WAL up to max_wal_size', async () => {
    const all = await allScenarios(5_000_000, { pgloader: true });
    const full = selectScenarios(all, ['full']);
    expect(full.map((s) => s.name)).toEqual(['pipe', 'exchange', 'truncate_insert']);
    // The main table, the three targets, and while truncate_insert runs its staging and the old target's files.
    expect(peakCopies(full)).toBe(6);
    // Every scenario: not below the ~16 copies measured at 500,000 rows (pgloader included) before the merge floors came.
    expect(peakCopies(all)).toBeGreaterThanOrEqual(16);
    expect(peakCopies(all)).toBeLessThan(24);
    const orders = SHAPES.orders.bytesPerRow;
    expect(diskNeed(500_000, SHAPES.orders, SERVER_SETTINGS, full)).toBe(500_000 * orders * (6 + WAL_COPIES));
    expect(diskNeed(20_000_000, SHAPES.orders, SERVER_SETTINGS, full)).toBe(20_000_000 * orders * 6 + 4 * 2 ** 30);
    expect(diskNeed(5_000_000, SHAPES.orders, { max_wal_size: '1GB' }, all)).toBe(5_000_000 * orders * peakCopies(all) + 2 ** 30);
    expect(diskNeed(1_000_000, SHAPES.wide, SERVER_SETTINGS, all)).toBeGreaterThan(diskNeed(1_000_000, SHAPES.narrow, SERVER_SETTINGS, all));
  });

  it('refuses before starting anything when the temporary directory lacks the space, and says what to do', async () => {
    const dir = tmpdir();
    const all = await allScenarios(1_000);
    await expect(checkFreeDisk(1e12, SHAPES.orders, SERVER_SETTINGS, all, dir)).rejects.toThrow(
      new RegExp(
        `needs about [0-9.]+ GB of free disk for 1,000,000,000,000 rows \\(orders\\), and ${dir} has [0-9.]+ GB free: use fewer rows \\(--rows\\) or scenarios \\(--only\\), .*TMPDIR=.*PGFERRY_BENCH_PG_URL`,
      ),
    );
    const ok = await checkFreeDisk(1_000, SHAPES.orders, SERVER_SETTINGS, all, dir);
    expect(ok.need).toBe(diskNeed(1_000, SHAPES.orders, SERVER_SETTINGS, all));
    expect(ok.free).toBeGreaterThan(ok.need);
  });
});

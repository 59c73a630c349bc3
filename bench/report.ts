/** Medians, the targets as PASS/FAIL, the printed table. */
import type { Sample, Scenario } from './scenario.ts';
import { MERGE_FLOOR, MERGE_FLOORS, NOTHING_CHANGED, SMALL_TABLE_MERGE } from './scenarios-merge.ts';

/** Median of numbers (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The medians of one scenario's runs. */
export interface ScenarioResult {
  readonly name: string;
  readonly description: string;
  readonly kind: Scenario['kind'];
  readonly runs: readonly Sample[];
  readonly medianWallMs: number;
  readonly medianRunMs?: number;
  readonly rows: number;
  readonly rowsPerSecond: number;
  readonly ratioToPipe?: number;
  /** (wall time - cli_startup's median) over the pipe's: the ratio without node's start-up and module loading. */
  readonly netRatioToPipe?: number;
  readonly peakRssMb?: number;
  readonly chunks?: number;
  readonly verified?: boolean;
}

/** One of the targets, judged. */
export interface Verdict {
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
}

/** Per scenario: the target its row of the table shows. */
const RATIO_TARGETS: Readonly<Record<string, number>> = {
  exchange: 1.0,
  truncate_insert: 1.5,
  delete_insert_1pct: 0.1,
  upsert_1pct: 0.1,
};

/** Peak RSS of any pgferry run, MB. */
export const MAX_RSS_MB = 150;
/** Runner overhead per chunk, ms. */
export const MAX_CHUNK_OVERHEAD_MS = 50;
/**
 * The same changed rows in a table five times larger may take at most this many times as long: growing with
 * the table would be ~5x; the margin is for the noise of sub-second runs.
 */
export const MAX_TABLE_GROWTH = 1.5;
/** Each tenfold of the changed rows must at least multiply the time by this ("roughly proportional": half the ideal 10x). */
export const MIN_DECADE_GROWTH = 5;

function optional<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

/** Summarises the samples of one scenario against the pipe's median. */
export function summarize(
  scenario: Scenario,
  runs: readonly Sample[],
  reference: { pipe?: readonly Sample[]; startup?: readonly Sample[] },
  verified: boolean | undefined,
): ScenarioResult {
  // Ratios are taken per round (this run over the pipe's run of the same round), then the median: the
  // machine's load drifts between rounds, not within one.
  const perRound = (f: (s: Sample, i: number) => number | undefined): number | undefined => {
    const values = runs.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v));
    return values.length === runs.length && values.length > 0 ? median(values) : undefined;
  };
  const pipeAt = (i: number): number | undefined => reference.pipe?.[i]?.wallMs;
  const startupAt = (i: number): number | undefined => reference.startup?.[i]?.wallMs;
  const wall = median(runs.map((r) => r.wallMs));
  const runMs = runs.every((r) => r.runMs !== undefined) ? median(runs.map((r) => r.runMs as number)) : undefined;
  const rss = runs.every((r) => r.peakRssKb !== undefined) ? Math.max(...runs.map((r) => r.peakRssKb as number)) / 1024 : undefined;
  const rows = median(runs.map((r) => r.rows));
  return {
    name: scenario.name,
    description: scenario.description,
    kind: scenario.kind,
    runs,
    medianWallMs: wall,
    ...(runMs === undefined ? {} : { medianRunMs: runMs }),
    rows,
    rowsPerSecond: rows === 0 ? 0 : rows / (wall / 1000),
    ...(scenario.name === 'pipe' || rows === 0
      ? {}
      : optional(
          'ratioToPipe',
          perRound((r, i) => {
            const p = pipeAt(i);
            return p === undefined ? undefined : r.wallMs / p;
          }),
        )),
    ...(scenario.kind !== 'pgferry' || rows === 0
      ? {}
      : optional(
          'netRatioToPipe',
          perRound((r, i) => {
            const p = pipeAt(i);
            const st = startupAt(i);
            return p === undefined || st === undefined ? undefined : (r.wallMs - st) / p;
          }),
        )),
    ...(rss === undefined ? {} : { peakRssMb: rss }),
    ...(runs[0]?.chunks === undefined ? {} : { chunks: median(runs.map((r) => r.chunks as number)) }),
    ...(verified === undefined ? {} : { verified }),
  };
}

/** Every target of the issue that the selected scenarios can judge. */
export function verdicts(results: ReadonlyMap<string, ScenarioResult>): Record<string, Verdict> {
  const out: Record<string, Verdict> = {};
  for (const [name, max] of Object.entries(RATIO_TARGETS)) {
    const r = results.get(name);
    if (r?.ratioToPipe !== undefined) {
      const run = r.netRatioToPipe === undefined ? '' : ` (without start-up ${r.netRatioToPipe.toFixed(2)}x)`;
      out[name] = { target: `<= ${max.toFixed(1)}x pipe`, measured: `${r.ratioToPipe.toFixed(2)}x${run}`, pass: r.ratioToPipe <= max };
    }
  }
  const rss = [...results.values()].filter((r) => r.kind === 'pgferry' && r.peakRssMb !== undefined);
  if (rss.length > 0) {
    const worst = rss.reduce((a, b) => ((a.peakRssMb as number) >= (b.peakRssMb as number) ? a : b));
    out.peak_rss = {
      target: `<= ${MAX_RSS_MB} MB, every pgferry run`,
      measured: `${(worst.peakRssMb as number).toFixed(0)} MB (${worst.name})`,
      pass: (worst.peakRssMb as number) <= MAX_RSS_MB,
    };
  }
  const big = results.get('truncate_insert');
  const small = results.get('truncate_insert_small');
  if (big?.peakRssMb !== undefined && small?.peakRssMb !== undefined) {
    const growth = big.peakRssMb / small.peakRssMb - 1;
    out.rss_flat = {
      target: `<= 10% more at ${big.rows.toLocaleString('en-US')} than at ${small.rows.toLocaleString('en-US')} rows`,
      measured: `${small.peakRssMb.toFixed(0)} -> ${big.peakRssMb.toFixed(0)} MB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%)`,
      // The epsilon keeps exactly 10% (e.g. 80 -> 88 MB, 0.1000000000000001 in floating point) within the target.
      pass: Math.abs(growth) <= 0.1 + 1e-9,
    };
  }
  const g = ['delete_insert_0.1pct', 'delete_insert_1pct', 'delete_insert_10pct'].map((n) => results.get(n));
  if (g.every((r) => r !== undefined)) {
    const [a, b, c] = g.map((r) => (r as ScenarioResult).medianWallMs) as [number, number, number];
    // Shown, not judged: the same curve less what a run that finds nothing changed costs; left out where the
    // 0.1% run's rows cost less than half that (small tables), so the difference would be mostly noise.
    const z = results.get(NOTHING_CHANGED)?.medianWallMs;
    const net =
      z !== undefined && a >= 1.5 * z
        ? `; less the ${(z / 1000).toFixed(2)} s of a run with nothing changed: x${((b - z) / (a - z)).toFixed(1)}, x${((c - z) / (b - z)).toFixed(1)}`
        : '';
    out.growth = {
      target: `time x>=${MIN_DECADE_GROWTH} per 10x changed rows (0.1% -> 1% -> 10%)`,
      measured: `${(a / 1000).toFixed(2)} -> ${(b / 1000).toFixed(2)} -> ${(c / 1000).toFixed(2)} s (x${(b / a).toFixed(1)}, x${(c / b).toFixed(1)})${net}`,
      pass: b / a >= MIN_DECADE_GROWTH && c / b >= MIN_DECADE_GROWTH,
    };
  }
  const same = results.get(SMALL_TABLE_MERGE);
  const bigTable = results.get('delete_insert_0.1pct');
  if (same !== undefined && bigTable !== undefined && same.rows > 0) {
    const x = bigTable.medianWallMs / same.medianWallMs;
    out.not_the_table = {
      target: `as many changed rows in the main table as in one a fifth its size: <= ${MAX_TABLE_GROWTH}x the time`,
      measured: `${Math.round(same.rows).toLocaleString('en-US')} rows: ${(same.medianWallMs / 1000).toFixed(2)} s (small table) -> ${(bigTable.medianWallMs / 1000).toFixed(2)} s (x${x.toFixed(2)})`,
      pass: x <= MAX_TABLE_GROWTH,
    };
  }
  const perChunk = chunkOverheadMs(results);
  if (perChunk) {
    out.chunk_overhead = {
      target: `< ${MAX_CHUNK_OVERHEAD_MS} ms per chunk`,
      measured: `${perChunk.ms.toFixed(1)} ms (${perChunk.chunks} chunks, one at a time)`,
      pass: perChunk.ms < MAX_CHUNK_OVERHEAD_MS,
    };
  }
  return out;
}

/** (wall time with many chunks - the same rows in one chunk) / chunks. */
export function chunkOverheadMs(results: ReadonlyMap<string, ScenarioResult>): { ms: number; chunks: number } | undefined {
  const many = results.get('overhead_many_chunks');
  const one = results.get('overhead_one_chunk');
  if (many === undefined || one === undefined || !many.chunks) return undefined;
  return { ms: (many.medianWallMs - one.medianWallMs) / many.chunks, chunks: many.chunks };
}

/** What the merge floors show (see {@link mergeFloor}). */
export interface MergeFloor {
  /** The 1% floor's median ratio to the pipe; null without pipe runs to pair with. */
  readonly floorRatioToPipe: number | null;
  /** Each 1% merge's time over the 1% floor's, per round, then the median. */
  readonly overFloor: Record<string, number>;
  /** The floors' median times at 0.1%, 1% and 10% changed (ms) and each tenfold's factor, when all three ran. */
  readonly floorGrowth: { readonly ms: readonly [number, number, number]; readonly x: readonly [number, number] } | null;
}

/**
 * The merges against their floors (the same change merged without pgferry, MERGE_FLOORS): each 1% merge's time
 * over the 1% floor's, per round, then the median; the 1% floor's own ratio to the pipe; and how the floor grows
 * from 0.1% to 1% to 10%. What is pgferry's and what is the server's.
 */
export function mergeFloor(results: ReadonlyMap<string, ScenarioResult>): MergeFloor | undefined {
  const floor = results.get(MERGE_FLOOR);
  if (floor === undefined || floor.runs.length === 0) return undefined;
  const overFloor: Record<string, number> = {};
  for (const name of ['delete_insert_1pct', 'upsert_1pct']) {
    const merge = results.get(name);
    if (merge === undefined || merge.runs.length !== floor.runs.length) continue;
    overFloor[name] = median(merge.runs.map((r, i) => r.wallMs / (floor.runs[i] as Sample).wallMs));
  }
  const floors = MERGE_FLOORS.map((n) => results.get(n)?.medianWallMs);
  const [a, b, c] = floors;
  const floorGrowth = a !== undefined && b !== undefined && c !== undefined ? { ms: [a, b, c] as const, x: [b / a, c / b] as const } : null;
  return { floorRatioToPipe: floor.ratioToPipe ?? null, overFloor, floorGrowth };
}

/** The line that says what {@link mergeFloor} found, or nothing without the 1% floor. */
export function mergeFloorLine(f: MergeFloor | undefined): string | undefined {
  if (f === undefined) return undefined;
  const over = Object.entries(f.overFloor).map(([name, x]) => `${name} ${x.toFixed(2)}x`);
  const alone = f.floorRatioToPipe === null ? '' : `; the floor alone is ${f.floorRatioToPipe.toFixed(3)}x of the pipe`;
  const g = f.floorGrowth;
  const growth =
    g === null
      ? ''
      : `; the floors at 0.1% -> 1% -> 10%: ${g.ms.map((ms) => (ms / 1000).toFixed(2)).join(' -> ')} s (x${g.x[0].toFixed(1)}, x${g.x[1].toFixed(1)})`;
  return `the 1% merges over their floor (${MERGE_FLOOR}: the same change merged without pgferry): ${over.length > 0 ? over.join(', ') : '-'}${alone}${growth}`;
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

/** The result table, one line per scenario, then the verdicts. */
export function table(results: readonly ScenarioResult[], judged: Readonly<Record<string, Verdict>>): string[] {
  const header = ['scenario', 'median s', 'recorded s', 'rows', 'rows/s', 'x pipe', 'x pipe net', 'peak RSS MB', 'target', 'verdict'];
  const rows = results.map((r) => {
    const v = judged[r.name];
    return [
      r.name,
      (r.medianWallMs / 1000).toFixed(2),
      r.medianRunMs === undefined ? '-' : (r.medianRunMs / 1000).toFixed(2),
      Math.round(r.rows).toLocaleString('en-US'),
      Math.round(r.rowsPerSecond).toLocaleString('en-US'),
      r.ratioToPipe === undefined ? '-' : r.ratioToPipe.toFixed(2),
      r.netRatioToPipe === undefined ? '-' : r.netRatioToPipe.toFixed(2),
      r.peakRssMb === undefined ? '-' : r.peakRssMb.toFixed(0),
      v ? v.target : '',
      v ? (v.pass ? 'PASS' : 'FAIL') : '',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const lines = [
    pad(header, widths),
    pad(
      widths.map((w) => '-'.repeat(w)),
      widths,
    ),
    ...rows.map((r) => pad(r, widths)),
  ];
  const others = Object.entries(judged).filter(([name]) => !results.some((r) => r.name === name));
  if (others.length > 0) lines.push('');
  for (const [name, v] of others) lines.push(`${name}: ${v.target}; measured ${v.measured}: ${v.pass ? 'PASS' : 'FAIL'}`);
  return lines;
}

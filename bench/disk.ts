/**
 * Disk: what the embedded server will need (checked before anything starts, so a full disk does not end a
 * run of twenty minutes halfway), and what the bench's databases took (reported with the results).
 */
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Shape } from './dataset.ts';
import type { DiskShare } from './scenario.ts';
import { sql } from './server.ts';

/**
 * Copies of the main table (with its indexes) the bench's two databases hold at their peak, WAL aside: the
 * main source table, what every selected scenario keeps (its source copy, its target, its dead rows) and the
 * most any one run adds while in flight (its staging). For every scenario of the bench that comes to ~23
 * copies; measured before the three merge floors (6 of them) came: 1.9 GB at 500,000 orders rows of 240 bytes
 * with their indexes, pgloader included, ~16.
 */
export function peakCopies(scenarios: readonly { readonly disk: DiskShare }[]): number {
  return 1 + scenarios.reduce((sum, s) => sum + s.disk.copies, 0) + Math.max(0, ...scenarios.map((s) => s.disk.during));
}

/** WAL kept between checkpoints, in copies of the table, up to max_wal_size. Measured: 1.2-1.3 GB at 500,000 orders rows. */
export const WAL_COPIES = 11;

const UNITS: Readonly<Record<string, number>> = { kB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40 };

/** A size setting of postgresql.conf (`4GB`, `1024MB`, a bare number in MB) in bytes; undefined if unreadable. */
export function settingBytes(value: string | undefined): number | undefined {
  const m = /^\s*(\d+)\s*(kB|MB|GB|TB)?\s*$/.exec(value ?? '');
  return m ? Number(m[1]) * (UNITS[m[2] ?? 'MB'] as number) : undefined;
}

/** Bytes of disk the embedded server needs for `scenarios` on `rows` rows of `shape`. */
export function diskNeed(rows: number, shape: Shape, settings: Readonly<Record<string, string>>, scenarios: readonly { readonly disk: DiskShare }[]): number {
  const maxWal = settingBytes(settings.max_wal_size) ?? 4 * 2 ** 30;
  const table = rows * shape.bytesPerRow;
  return table * peakCopies(scenarios) + Math.min(maxWal, table * WAL_COPIES);
}

function gb(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GB`;
}

/**
 * Throws, naming what is needed and what is free, when the directory the embedded server's data goes to
 * (the temporary directory: TMPDIR) has less free space than {@link diskNeed}. Returns the two figures.
 */
export async function checkFreeDisk(
  rows: number,
  shape: Shape,
  settings: Readonly<Record<string, string>>,
  scenarios: readonly { readonly disk: DiskShare }[],
  dir = tmpdir(),
): Promise<{ need: number; free: number; dir: string }> {
  const s = await statfs(dir);
  const free = s.bavail * s.bsize;
  const need = diskNeed(rows, shape, settings, scenarios);
  if (free < need) {
    throw new Error(
      `the embedded server needs about ${gb(need)} of free disk for ${rows.toLocaleString('en-US')} rows (${shape.name}), and ${dir} has ${gb(free)} free: ` +
        `use fewer rows (--rows) or scenarios (--only), a temporary directory on a larger disk (TMPDIR=/path npm run bench), or a server of your own (PGFERRY_BENCH_PG_URL)`,
    );
  }
  return { need, free, dir };
}

/** What the bench's databases take at the end, in MB (WAL only where the server lets us list it). */
export interface DiskUsage {
  readonly sourceMb: number;
  readonly targetMb: number;
  readonly walMb: number | null;
}

/** Sizes of the source and target databases and of the server's WAL directory. */
export async function diskUsage(urls: { readonly source: string; readonly target: string }): Promise<DiskUsage> {
  const size = async (url: string): Promise<number> => Number((await sql<{ b: string }>(url, ['SELECT pg_database_size(current_database()) AS b']))[0]?.b ?? 0);
  const [source, target] = await Promise.all([size(urls.source), size(urls.target)]);
  // pg_ls_waldir() needs superuser or pg_monitor.
  const wal = await sql<{ b: string }>(urls.target, ['SELECT coalesce(sum(size), 0) AS b FROM pg_ls_waldir()']).then(
    (r) => Number(r[0]?.b ?? 0),
    () => null,
  );
  const mb = (b: number): number => Math.round(b / 2 ** 20);
  return { sourceMb: mb(source), targetMb: mb(target), walMb: wal === null ? null : mb(wal) };
}

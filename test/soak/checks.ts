/**
 * The soak's checks. Between runs (writers busy) the target must be a consistent state; after the writers
 * stop and one last run, it must equal the source exactly.
 */
import type pg from 'pg';
import { ident } from '../../lib/sql/quote.ts';
import type { SoakTable } from './writers.ts';

/** A row version as the checks see it. */
export interface Version {
  readonly ver: number;
  /** The 32-bit xmin of the source row (source snapshots only). */
  readonly xmin?: number;
  /** md5 of the row's text (target snapshots only). */
  readonly h?: string;
}

/** id -> version. */
export type Snapshot = Map<string, Version>;

/** The source's rows as (id, ver, xmin), in one statement's snapshot. */
export async function sourceSnapshot(db: pg.Client, table: SoakTable): Promise<Snapshot> {
  const r = await db.query<{ id: string; ver: number; x: string }>(`SELECT id, ver, xmin::text AS x FROM public.${ident(table.name)}`);
  return new Map(r.rows.map((row) => [row.id, { ver: row.ver, xmin: Number(row.x) }]));
}

/** The target's rows as (id, ver, md5 of the row text); duplicate ids are returned apart. */
export async function targetSnapshot(db: pg.Client, table: SoakTable): Promise<{ rows: Snapshot; duplicates: string[] }> {
  const rows: Snapshot = new Map();
  // No run has created the target yet (e.g. the first run failed): an empty target.
  const exists = await db.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`public.${ident(table.name)}`]);
  if (!exists.rows[0]?.ok) return { rows, duplicates: [] };
  const r = await db.query<{ id: string; ver: number; h: string }>(`SELECT id, ver, md5(t::text) AS h FROM public.${ident(table.name)} AS t`);
  const duplicates: string[] = [];
  for (const row of r.rows) {
    if (rows.has(row.id)) duplicates.push(row.id);
    rows.set(row.id, { ver: row.ver, h: row.h });
  }
  return { rows, duplicates };
}

/** Target rows that are not a committed version of their source row (checked against the history, in the source). */
export async function notCommittedVersions(source: pg.Client, table: SoakTable, target: Snapshot): Promise<string[]> {
  const ids: string[] = [];
  const vers: number[] = [];
  const hashes: string[] = [];
  for (const [id, v] of target) {
    ids.push(id);
    vers.push(v.ver);
    hashes.push(v.h ?? '');
  }
  const r = await source.query<{ id: string; ver: number }>(
    `SELECT x.id, x.ver FROM unnest($1::bigint[], $2::int[], $3::text[]) AS x(id, ver, h)
LEFT JOIN public.${ident(table.history)} AS h ON h.id = x.id AND h.ver = x.ver AND h.op <> 'D'
WHERE h.h IS DISTINCT FROM x.h LIMIT 5`,
    [ids, vers, hashes],
  );
  return r.rows.map((row) => `id ${row.id} ver ${row.ver}`);
}

/** Whether a 32-bit xmin lies before the window's exclusive 64-bit upper bound (modulo 2^32, as PostgreSQL compares). */
export function xminBefore(xmin: number, upper: string): boolean {
  const u = Number(BigInt(upper) % 2n ** 32n);
  const diff = (u - xmin + 2 ** 32) % 2 ** 32;
  return diff > 0 && diff < 2 ** 31;
}

/** Inputs of {@link checkBetweenRuns}. */
export interface BetweenRuns {
  /** Source before the run(s) started, and after they ended. */
  readonly before: Snapshot;
  readonly after: Snapshot;
  /** Target after the run(s), and after the previous check. */
  readonly target: Snapshot;
  readonly previous: Snapshot;
  /** Column windows: every row committed before the run is due; xmin windows: rows below this upper bound. */
  readonly xminUpper?: string;
}

/**
 * The consistency rules between runs, beyond "every target row is a committed version" (checked apart):
 * - nothing is lost: a row committed before the run and unchanged until it ended is in the target, at that
 *   very version (for xmin, when its xmin is below the window's upper bound; later ones are the next run's);
 * - nothing goes back: a key once in the target stays, at the same or a newer version.
 */
export function checkBetweenRuns(input: BetweenRuns): string[] {
  const problems: string[] = [];
  const report = (message: string): void => {
    if (problems.length < 5) problems.push(message);
  };
  for (const [id, v] of input.before) {
    const now = input.after.get(id);
    if (!now || now.ver !== v.ver) continue;
    if (input.xminUpper !== undefined && !xminBefore(v.xmin ?? 0, input.xminUpper)) continue;
    const t = input.target.get(id);
    if (!t) report(`lost: id ${id} ver ${v.ver} (committed before the run, unchanged) is not in the target`);
    else if (t.ver !== v.ver) report(`stale: id ${id} is at ver ${t.ver} in the target, ${v.ver} in the source since before the run`);
  }
  for (const [id, v] of input.previous) {
    const t = input.target.get(id);
    if (!t) report(`vanished: id ${id} was in the target and is gone`);
    else if (t.ver < v.ver) report(`went back: id ${id} from ver ${v.ver} to ${t.ver}`);
  }
  return problems;
}

/** Sorted md5 of every row's text of `public.table`, optionally only the rows whose id is in `ids`. */
export async function tableHashes(db: pg.Client, table: string, ids?: readonly string[]): Promise<string[]> {
  const where = ids ? ' WHERE t.id = ANY($1::bigint[])' : '';
  const r = await db.query<{ h: string }>(`SELECT md5(t::text) AS h FROM public.${ident(table)} AS t${where}`, ids ? [ids] : []);
  return r.rows.map((row) => row.h).sort();
}

/** Ids the writers deleted (committed). */
export async function deletedIds(db: pg.Client, table: SoakTable): Promise<Set<string>> {
  const r = await db.query<{ id: string }>(`SELECT id FROM public.${ident(table.history)} WHERE op = 'D'`);
  return new Set(r.rows.map((row) => row.id));
}

/** Number of elements that differ between two sorted lists (a multiset difference, both ways). */
export function multisetDifference(a: readonly string[], b: readonly string[]): { missing: number; extra: number } {
  let i = 0;
  let j = 0;
  let missing = 0;
  let extra = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x !== undefined && (y === undefined || x < y)) {
      missing += 1;
      i += 1;
    } else if (y !== undefined && (x === undefined || y < x)) {
      extra += 1;
      j += 1;
    } else {
      i += 1;
      j += 1;
    }
  }
  return { missing, extra };
}

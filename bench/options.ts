/** Command-line options of `npm run bench`. */
import { parseArgs } from 'node:util';
import { SHAPES, type Shape, type ShapeName } from './dataset.ts';

/** How the reference pipe is run: psql on both ends, or the same pipe with pg-copy-streams only. */
export type PipeKind = 'psql' | 'pg-copy-streams';

/** Options of one bench run. */
export interface BenchOptions {
  /** Rows of the source table. @default 5,000,000 */
  readonly rows: number;
  /** Columns of the source table (`--table orders|narrow|wide`). @default orders, the table */
  readonly shape: Shape;
  /** Timed repetitions of every scenario; the median is reported. @default 3 */
  readonly runs: number;
  /** Scenario names (or group names) to run. @default every scenario */
  readonly only?: readonly string[];
  /** `auto`: psql when on PATH, else pg-copy-streams. @default auto */
  readonly pipe: 'auto' | PipeKind;
  /** One extra, untimed run per pgferry scenario that records where the time goes. @default true */
  readonly profile: boolean;
  /** Also time pgloader (for comparison) when it is on PATH. @default true */
  readonly pgloader: boolean;
  /** Compare target and source (count and checksum) after the last repetition of every scenario. @default true */
  readonly verify: boolean;
  /**
   * Compile the CLI (scripts/build-cli.mjs) before measuring, so the runs use the bundle users run. Off, the runs
   * use what `bin/pgferry.js` picks (dist/ if current, else tsx), and dist/ is left as it is. @default true
   */
  readonly build: boolean;
  /** Where the results go. @default bench/results.json */
  readonly out: string;
  /** postgresql.conf settings of the embedded server, over the bench's defaults (ignored with PGFERRY_BENCH_PG_URL). */
  readonly settings: Readonly<Record<string, string>>;
  /** External server to use instead of an embedded one (it creates and drops its own databases). */
  readonly externalUrl?: string;
}

/**
 * Settings of the embedded server: what a production server would have rather than initdb's defaults, and
 * durability ON (fsync, synchronous_commit, full_page_writes), unlike startEmbeddedPostgres's test defaults:
 * a write benchmark against a server that does not flush would flatter WAL-heavy strategies. The pipe and
 * pgferry share them, since they share the server.
 */
export const SERVER_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '512MB',
  max_wal_size: '4GB',
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
};

const USAGE = `npm run bench -- [--rows N] [--table orders|narrow|wide] [--runs K] [--only a,b] [--pipe auto|psql|node] [--no-profile] [--no-verify]
                     [--no-pgloader] [--no-build] [--out FILE] [--set key=value ...]
  PGFERRY_BENCH_PG_URL=postgres://user:pass@host:port/postgres  use that server instead of an embedded one`;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a whole number >= 1, got ${JSON.stringify(value)}\n${USAGE}`);
  return n;
}

/** Parses `process.argv.slice(2)`; throws with the usage on a bad option. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rows: { type: 'string' },
      table: { type: 'string' },
      runs: { type: 'string' },
      only: { type: 'string' },
      pipe: { type: 'string' },
      'no-profile': { type: 'boolean' },
      'no-verify': { type: 'boolean' },
      'no-pgloader': { type: 'boolean' },
      'no-build': { type: 'boolean' },
      out: { type: 'string' },
      set: { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
    allowPositionals: false,
  });
  if (values.help) throw new Error(USAGE);
  const pipe =
    values.pipe === undefined || values.pipe === 'auto' ? 'auto' : values.pipe === 'psql' ? 'psql' : values.pipe === 'node' ? 'pg-copy-streams' : undefined;
  if (pipe === undefined) throw new Error(`--pipe: expected auto, psql or node, got ${JSON.stringify(values.pipe)}\n${USAGE}`);
  const settings: Record<string, string> = { ...SERVER_SETTINGS };
  for (const pair of values.set ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`--set: expected key=value, got ${JSON.stringify(pair)}\n${USAGE}`);
    settings[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const table = values.table ?? 'orders';
  if (!Object.hasOwn(SHAPES, table)) throw new Error(`--table: expected ${Object.keys(SHAPES).join(', ')}, got ${JSON.stringify(table)}\n${USAGE}`);
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return {
    rows: positive('rows', values.rows, 5_000_000),
    shape: SHAPES[table as ShapeName],
    runs: positive('runs', values.runs, 3),
    ...(only && only.length > 0 ? { only } : {}),
    pipe,
    profile: !values['no-profile'],
    verify: !values['no-verify'],
    pgloader: !values['no-pgloader'],
    build: !values['no-build'],
    out: values.out ?? 'bench/results.json',
    settings,
    ...(env.PGFERRY_BENCH_PG_URL ? { externalUrl: env.PGFERRY_BENCH_PG_URL } : {}),
  };
}

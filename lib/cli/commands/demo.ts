/**
 * `pgferry demo`: a whole round trip with no setup. Starts an embedded PostgreSQL, creates a source and
 * a target database, seeds an orders table, loads it with an incremental merge through the local state
 * machine, changes a small share of the source, runs again (which extracts only the changed rows), and
 * verifies each time that source and target hold the same rows.
 */
import pg from 'pg';
import { parsePipeline } from '../../config/index.ts';
import { startEmbeddedPostgres } from '../../local/embedded.ts';
import { runLocal } from '../../local/runner.ts';
import type { RunSummary } from '../../state/types.ts';
import { count, ExitCode, progressLine, summaryLines, type Io } from '../output.ts';

/** Options of the demo. */
export interface DemoOptions {
  /** Rows to seed. @default 1,000,000 */
  readonly rows?: number;
}

/** Seeds an orders-like table of `rows` rows with every common column type, indexed on its cursor column. */
export function seedOrdersSql(rows: number): string[] {
  return [
    `CREATE TYPE public.order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled')`,
    `CREATE TABLE public.orders (
  id bigint PRIMARY KEY,
  customer_id bigint NOT NULL,
  status public.order_status NOT NULL,
  amount numeric(12,2) NOT NULL,
  currency char(3) NOT NULL,
  note text,
  attributes jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
)`,
    `INSERT INTO public.orders
SELECT g, (g * 7919) % 100000, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4]::public.order_status,
  ((g * 104729) % 1000000) / 100.0, (ARRAY['EUR','USD','GBP'])[1 + g % 3],
  CASE WHEN g % 10 = 0 THEN NULL ELSE 'order ' || g || repeat(' x', (g % 17)::int) END,
  jsonb_build_object('channel', (ARRAY['web','app','store'])[1 + g % 3], 'items', 1 + g % 5),
  timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => g * 1.000123),
  timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => g * 1.000123)
FROM generate_series(1::bigint, ${Math.max(0, Math.floor(rows))}) AS g`,
    // As on a real source of an incremental pipeline: without it, every run would scan the table for its window.
    'CREATE INDEX orders_updated_at ON public.orders (updated_at)',
    'ANALYZE public.orders',
  ];
}

/** An order-independent checksum of a table's rows, and their count. */
export const CHECKSUM_SQL = `SELECT count(*)::bigint AS n,
  coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text AS checksum
FROM public.orders AS t`;

async function checksum(url: string): Promise<{ n: string; checksum: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ n: string; checksum: string }>(CHECKSUM_SQL);
    return result.rows[0] ?? { n: '0', checksum: '0' };
  } finally {
    await client.end();
  }
}

/** Runs `statements` in order on one connection; returns the rows each one changed. */
async function sql(url: string, statements: readonly string[]): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const changed: number[] = [];
    for (const statement of statements) changed.push((await client.query(statement)).rowCount ?? 0);
    return changed;
  } finally {
    await client.end();
  }
}

/**
 * Changes 2% of the orders the way an application would: 1% updated, 1% inserted, each with an `updated_at`
 * past every stored one (one second after the greatest, not now(): the seed's timestamps lie in 2026, and the
 * demo must not depend on the clock). Deletes are left out: a cursor column never sees a row that is gone.
 */
export function changeOrdersSql(rows: number): string[] {
  const next = `(SELECT max(updated_at) + interval '1 second' FROM public.orders)`;
  return [
    `UPDATE public.orders SET amount = amount + 1, status = 'paid', updated_at = ${next} WHERE id % 100 = 1`,
    `INSERT INTO public.orders
SELECT id + ${Math.max(0, Math.floor(rows))}, customer_id, 'new', amount, currency, note, attributes, ${next}, ${next}
FROM public.orders WHERE id % 100 = 3`,
  ];
}

/** Runs the demo; exit 0 only when every verification matched. */
export async function demoCommand(options: DemoOptions, io: Io): Promise<number> {
  const rows = options.rows ?? 1_000_000;
  io.err('starting an embedded PostgreSQL...');
  const server = await startEmbeddedPostgres();
  try {
    await sql(server.url('postgres'), ['CREATE DATABASE pgferry_demo_source', 'CREATE DATABASE pgferry_demo_target']);
    const sourceUrl = server.url('pgferry_demo_source');
    const targetUrl = server.url('pgferry_demo_target');
    io.err(`seeding ${count(rows)} rows into pgferry_demo_source.public.orders...`);
    await sql(sourceUrl, seedOrdersSql(rows));
    // The target needs the enum type the orders table uses; create_table creates the table itself.
    await sql(targetUrl, [`CREATE TYPE public.order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled')`]);
    const config = parsePipeline(
      `name: demo_orders
source:
  type: postgres
  connection_type: url
  connection_id: "${sourceUrl}"
  table: {schema: public, name: orders}
  options:
    incremental_strategy: column
    incremental_column: updated_at
    chunk_rows: ${Math.max(10_000, Math.ceil(rows / 8))}
    max_parallel_chunks: 2
sink:
  type: postgres
  connection_type: url
  connection_id: "${targetUrl}"
  table: {schema: public, name: orders}
  strategy:
    mode: incremental_merge
    unique_key: [id]
`,
      'demo.yaml',
    );
    const runs: RunSummary[] = [];
    let changed = 0;
    let ok = true;
    for (const step of ['first run', 'after changing the source'] as const) {
      if (step !== 'first run') {
        io.err('changing the source: 1% of rows updated, 1% inserted, their updated_at moved past the cursor...');
        const [updated = 0, inserted = 0] = await sql(sourceUrl, changeOrdersSql(rows));
        changed = updated + inserted;
        io.err(`  ${count(updated)} rows updated, ${count(inserted)} inserted`);
      }
      io.err(`running pipeline ${config.name} (${step})...`);
      const summary = await runLocal(config, { onProgress: (p) => io.err(progressLine(p)) });
      runs.push(summary);
      for (const line of summaryLines(summary)) io.err(line);
      const [src, dst] = await Promise.all([checksum(sourceUrl), checksum(targetUrl)]);
      const same = summary.status === 'succeeded' && src.n === dst.n && src.checksum === dst.checksum;
      if (step !== 'first run') {
        // The window's lower bound is inclusive (a row committed later at exactly the cursor is not lost), so the row at the cursor comes again.
        io.err(
          `  incremental: ${count(summary.rowsExtracted)} rows extracted for ${count(changed)} changed, of ${count(Number(src.n))}: those with updated_at in [${summary.window?.lower ?? '-'}, ${summary.window?.upper ?? '-'}] (from the stored cursor on, inclusive), merged on id`,
        );
      }
      ok &&= same;
      io.err(
        `  verify: source ${count(Number(src.n))} rows / checksum ${src.checksum}; target ${count(Number(dst.n))} rows / checksum ${dst.checksum}: ${same ? 'IDENTICAL' : 'DIFFERENT'}`,
      );
    }
    io.out(
      JSON.stringify({
        demo: ok ? 'passed' : 'failed',
        changed,
        runs: runs.map((r) => ({
          runId: r.runId,
          status: r.status,
          rows: r.rowsExtracted,
          chunks: r.chunks,
          durationMs: r.durationMs,
          rowsPerSecond: Math.round(r.rowsExtracted / Math.max(r.durationMs / 1000, 0.001)),
        })),
      }),
    );
    io.err(ok ? 'demo passed: the target holds exactly the source rows after every run' : 'demo FAILED: see above');
    return ok ? ExitCode.ok : ExitCode.failed;
  } finally {
    await server.stop();
  }
}

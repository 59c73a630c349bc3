/**
 * Where an apply's time goes, in the server: EXPLAIN (ANALYZE, BUFFERS, WAL) of the statements pgferry's
 * strategies run, and of their alternatives, on the bench's table in a throwaway embedded server (same
 * settings as the bench). Every statement runs in a transaction that is rolled back; a CHECKPOINT before
 * each one (unless noted) makes it pay the full-page images a first touch after a checkpoint pays.
 *
 *   npx tsx bench/explain.ts [rows = 5000000] [merge,plan,truncate]
 */
import { execSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startEmbeddedPostgres } from '../lib/local/embedded.ts';
import { changeSql, columnList, seedSql, SHAPES, targetSql } from './dataset.ts';
import { SERVER_SETTINGS } from './options.ts';

const rows = Number(process.argv[2] ?? 5_000_000);
const only = process.argv[3]?.split(',');
const server = await startEmbeddedPostgres({ settings: SERVER_SETTINGS });
const admin = new pg.Client({ connectionString: server.url('postgres') });
await admin.connect();
await admin.query('CREATE DATABASE src');
await admin.query('CREATE DATABASE dst');
const src = new pg.Client({ connectionString: server.url('src') });
const dst = new pg.Client({ connectionString: server.url('dst') });
await src.connect();
await dst.connect();
const t0 = performance.now();
const log = (s: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}`);
async function run(db: pg.Client, sql: string): Promise<number> {
  const t = performance.now();
  await db.query(sql);
  return performance.now() - t;
}
async function explain(db: pg.Client, label: string, sql: string, pre: string[] = [], checkpoint = true): Promise<void> {
  if (checkpoint) await db.query('CHECKPOINT');
  await db.query('BEGIN');
  for (const p of pre) await db.query(p);
  const t = performance.now();
  const r = await db.query(`EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF) ${sql}`);
  const ms = performance.now() - t;
  await db.query('ROLLBACK');
  console.log(`\n=== ${label}: ${(ms / 1000).toFixed(2)} s`);
  for (const row of r.rows) console.log('   ' + row['QUERY PLAN']);
}
const want = (k: string) => !only || only.includes(k);
try {
  log(`seeding ${rows}`);
  for (const s of seedSql(SHAPES.orders, 'public.orders', rows)) await src.query(s);
  for (const s of targetSql(SHAPES.orders, 'public.t')) await dst.query(s);
  const env = { ...process.env, S: server.url('src'), D: server.url('dst') };
  execSync(
    `psql "$S" -Xqc "COPY (SELECT ${columnList(SHAPES.orders)} FROM public.orders) TO STDOUT (FORMAT binary)" | psql "$D" -Xqc "COPY public.t FROM STDIN (FORMAT binary)"`,
    { env, shell: '/bin/bash' },
  );
  await dst.query('VACUUM ANALYZE public.t');
  log('loaded target');
  const stg = (name: string, mod: number) => [
    `DROP TABLE IF EXISTS ${name}`,
    `CREATE UNLOGGED TABLE ${name} AS SELECT id, customer_id, 'paid'::text AS status, amount + 1 AS amount, currency, note, attributes, created_at, updated_at + interval '100 days' AS updated_at FROM public.t WHERE id % ${mod} = 7`,
    `ANALYZE ${name}`,
  ];
  for (const s of [...stg('stg1', 100), ...stg('stg10', 10), ...stg('stg01', 1000)]) await dst.query(s);
  const cols = columnList(SHAPES.orders);
  const others = cols.split(', ').filter((c) => c !== 'id');
  const del = (s: string) => `DELETE FROM public.t AS t USING (SELECT DISTINCT id FROM ${s}) AS s WHERE t.id = s.id`;
  const ins = (s: string) => `INSERT INTO public.t (${cols}) SELECT ${cols} FROM ${s}`;
  const ups = (s: string) =>
    `INSERT INTO public.t (${cols}) SELECT ${cols} FROM ${s} ON CONFLICT (id) DO UPDATE SET ${others.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`;
  const upd = (s: string) => `UPDATE public.t AS t SET ${others.map((c) => `${c} = s.${c}`).join(', ')} FROM ${s} AS s WHERE t.id = s.id`;
  if (want('merge')) {
    for (const s of ['stg01', 'stg1', 'stg10']) {
      await explain(dst, `${s} delete_insert DELETE (as pgferry)`, del(s));
      await explain(dst, `${s} delete_insert DELETE, no hash/merge join`, del(s), ['SET LOCAL enable_hashjoin = off', 'SET LOCAL enable_mergejoin = off']);
      await explain(dst, `${s} delete_insert DELETE (as pgferry), no checkpoint before`, del(s), [], false);
      await explain(dst, `${s} delete_insert INSERT after the DELETE`, ins(s), [del(s)]);
      await explain(dst, `${s} upsert (as pgferry)`, ups(s));
      await explain(dst, `${s} upsert, no checkpoint before`, ups(s), [], false);
      await explain(dst, `${s} floor: UPDATE ... FROM staging`, upd(s));
      await dst.query('VACUUM public.t');
    }
  }
  if (want('plan')) {
    const max = (await src.query('SELECT max(updated_at)::text AS m FROM public.orders')).rows[0].m as string;
    await src.query(changeSql(SHAPES.orders, 'public.orders', 100, 7));
    const upper = (await src.query('SELECT max(updated_at)::text AS m FROM public.orders')).rows[0].m as string;
    const where = `updated_at >= '${max}'::timestamptz AND updated_at <= '${upper}'::timestamptz`;
    await explain(
      src,
      'plan: count of the window (as pgferry, 1% changed)',
      `SELECT count(*) AS n FROM (SELECT id FROM public.orders WHERE (${where})) AS s`,
      [],
      false,
    );
    const est = await src.query(`EXPLAIN (FORMAT JSON) SELECT id FROM public.orders WHERE (${where})`);
    console.log(
      '   planner estimate of the window rows (EXPLAIN, no scan):',
      (est.rows[0]['QUERY PLAN'] as { Plan: { 'Plan Rows': number } }[])[0]?.Plan['Plan Rows'],
    );
    await explain(src, 'extract: the COPY select of the window', `SELECT ${cols} FROM public.orders WHERE (${where})`, [], false);
  }
  if (want('truncate')) {
    await dst.query(`CREATE UNLOGGED TABLE stgall AS SELECT * FROM public.t`);
    await dst.query('VACUUM ANALYZE stgall');
    await explain(dst, 'truncate_insert: TRUNCATE + INSERT into PK + index (as pgferry)', ins('stgall'), ['TRUNCATE public.t']);
    await explain(dst, 'truncate_insert: TRUNCATE + INSERT ... ORDER BY id', `${ins('stgall')} ORDER BY id`, ['TRUNCATE public.t']);
    // indexes dropped and rebuilt inside the same transaction (TRUNCATE holds ACCESS EXCLUSIVE anyway)
    await dst.query('CHECKPOINT');
    await dst.query('BEGIN');
    const steps: [string, string][] = [
      ['TRUNCATE', 'TRUNCATE public.t'],
      ['drop pk + index', 'ALTER TABLE public.t DROP CONSTRAINT t_pkey; DROP INDEX public.t_updated_at'],
      ['INSERT without indexes', ins('stgall')],
      ['ADD PRIMARY KEY', 'ALTER TABLE public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id)'],
      ['CREATE INDEX updated_at', 'CREATE INDEX t_updated_at ON public.t (updated_at)'],
      ['COMMIT-equivalent (ROLLBACK here)', 'ROLLBACK'],
    ];
    console.log('\n=== truncate_insert with indexes rebuilt after the INSERT');
    let total = 0;
    for (const [name, sql] of steps) {
      const ms = await run(dst, sql);
      total += ms;
      console.log(`   ${name.padEnd(36)} ${(ms / 1000).toFixed(2)} s`);
    }
    console.log(`   total ${(total / 1000).toFixed(2)} s`);
    for (const mwm of ['64MB', '512MB']) {
      await dst.query('CHECKPOINT');
      await dst.query('BEGIN');
      await dst.query(`SET LOCAL maintenance_work_mem = '${mwm}'`);
      const a = await run(dst, 'CREATE INDEX x_pk ON stgall (id)');
      const b = await run(dst, 'CREATE INDEX x_u ON stgall (updated_at)');
      await dst.query('ROLLBACK');
      console.log(
        `   index builds on ${rows} unlogged rows, maintenance_work_mem ${mwm}: id ${(a / 1000).toFixed(2)} s, updated_at ${(b / 1000).toFixed(2)} s`,
      );
    }
  }
} finally {
  await Promise.all([src.end(), dst.end(), admin.end()]);
  await server.stop();
}

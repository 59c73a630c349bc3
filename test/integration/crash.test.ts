import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { runLocal } from '../../lib/local/runner.ts';
import type { CrashPoint, CrashRun } from '../helpers/crash-child.ts';
import { rowHashes } from '../helpers/compare.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { cli } from '../helpers/cli.ts';
import { runAndKill } from '../helpers/crash-run.ts';
import { copyMidStream, gateFunctionSql, until } from '../helpers/copy-gate.ts';

/** Advisory lock the source's gate function waits on, so the parent can hold a COPY mid-stream. */
const GATE_LOCK = 734221;
const SEED = 4000;
/** The row the COPY stops at: the last one inserted, so the chunks before it and most of its own chunk have streamed. */
const GATE_ID = 6000;

type Strategy = 'merge_column' | 'append_column' | 'upsert_xmin';

interface Case {
  readonly strategy: Strategy;
  readonly point: Exclude<CrashPoint, 'none'>;
  /** How the dead run's lease is released: `state unlock`, or by letting it expire (the next run takes it over). */
  readonly recover: 'unlock' | 'expiry';
}

const CASES: readonly Case[] = [
  { strategy: 'merge_column', point: 'after-plan', recover: 'unlock' },
  { strategy: 'merge_column', point: 'mid-copy', recover: 'unlock' },
  { strategy: 'merge_column', point: 'after-chunks', recover: 'expiry' },
  { strategy: 'merge_column', point: 'mid-apply', recover: 'unlock' },
  { strategy: 'merge_column', point: 'after-apply', recover: 'unlock' },
  { strategy: 'append_column', point: 'after-plan', recover: 'expiry' },
  { strategy: 'append_column', point: 'mid-copy', recover: 'expiry' },
  { strategy: 'append_column', point: 'after-chunks', recover: 'unlock' },
  { strategy: 'append_column', point: 'mid-apply', recover: 'expiry' },
  { strategy: 'append_column', point: 'after-apply', recover: 'unlock' },
  { strategy: 'upsert_xmin', point: 'mid-copy', recover: 'unlock' },
  { strategy: 'upsert_xmin', point: 'mid-apply', recover: 'unlock' },
];

function pipelineYaml(name: string, sourceUrl: string, targetUrl: string, strategy: Strategy): string {
  const options =
    strategy === 'upsert_xmin' ? 'incremental_strategy: xmin' : 'incremental_strategy: column, incremental_column: updated_at, lookback: 10 minutes';
  const sinkStrategy = {
    merge_column: '{mode: incremental_merge, unique_key: [id]}',
    append_column: '{mode: incremental_append, only_new_rows: true, unique_key: [id]}',
    upsert_xmin: '{mode: incremental_merge, unique_key: [id], merge_policy: upsert}',
  }[strategy];
  // The gate is the custom_predicate (raw SQL by design): a no-op unless the test holds GATE_LOCK.
  return `name: ${name}
source:
  type: postgres
  connection_type: url
  connection_id: "${sourceUrl}"
  table: {schema: public, name: events}
  options: {${options}, custom_predicate: "public.crash_gate(id)", chunk_rows: 2000, max_parallel_chunks: 1}
sink:
  type: postgres
  connection_type: url
  connection_id: "${targetUrl}"
  table: {schema: public, name: events}
  strategy: ${sinkStrategy}
`;
}

/** One case, ready to be killed: its databases, its pipeline file, and the old and new states it must end in. */
interface Prepared {
  readonly c: Case;
  readonly name: string;
  readonly file: string;
  readonly run: CrashRun;
  readonly source: pg.Client;
  readonly target: pg.Client;
  readonly gate: pg.Client;
  readonly databases: readonly string[];
  readonly oldRows: string[];
  readonly oldCursor: unknown;
  readonly newRows: string[];
}

/**
 * Every case runs in ONE child process, each pipeline with its own databases, and each run stops at its own
 * point; once all have got there the process is SIGKILLed, killing every run where it stands. (One child
 * for all cases keeps the test fast; a kill of a process with one run or twelve is the same kill.)
 */
describe('Feature: a run killed (SIGKILL) at a step boundary leaves the old or the new target and cursor, and the next run recovers', () => {
  let server: TestPostgres;
  let dir: string;
  const prepared = new Map<Case, Prepared>();

  async function prepare(c: Case): Promise<Prepared> {
    const tag = `${c.strategy}_${c.point.replace('-', '_')}`;
    const sourceUrl = await server.createDatabase('crsrc');
    const targetUrl = await server.createDatabase('crdst');
    const source = await server.client(sourceUrl);
    const target = await server.client(targetUrl);
    const gate = await server.client(sourceUrl);
    await source.query(`CREATE TABLE public.events (id bigint PRIMARY KEY, k integer, v text, updated_at timestamptz(6) NOT NULL)`);
    await source.query(
      `INSERT INTO public.events SELECT g, g % 13, 'seed ' || g || repeat(' pad', 10), timestamptz '2026-06-03 12:00:00+00' + g * interval '1.000001 second' FROM generate_series(1, ${SEED}) g`,
    );
    await source.query(gateFunctionSql('crash_gate', GATE_LOCK, GATE_ID));
    const name = `crash_${tag}`;
    const file = join(dir, `${tag}.yaml`);
    await writeFile(file, pipelineYaml(name, sourceUrl, targetUrl, c.strategy));

    // Run 1 loads the seed: the "old" state.
    const first = await cli('run', file);
    expect(first.code, first.stderr.join('\n')).toBe(0);
    const oldRows = await rowHashes(target, 'public.events');
    const oldCursor = (await target.query(`SELECT cursor FROM pgferry.pipeline_state WHERE pipeline = $1`, [name])).rows[0]?.cursor;

    // The changes the killed run is loading: the "new" state is the source as it is now.
    if (c.strategy !== 'append_column') {
      await source.query(
        `UPDATE public.events SET v = 'changed ' || id, updated_at = timestamptz '2026-06-04 00:00:00+00' + id * interval '1 ms' WHERE id % 3 = 0`,
      );
    }
    await source.query(
      `INSERT INTO public.events SELECT g, g % 13, 'new ' || g || repeat(' pad', 10), timestamptz '2026-06-05 00:00:00+00' + g * interval '1 ms' FROM generate_series(${SEED + 1}, ${GATE_ID}) g`,
    );
    const newRows = await rowHashes(source, 'public.events');
    expect(newRows).not.toEqual(oldRows);
    if (c.point === 'mid-copy') await gate.query(`SELECT pg_advisory_lock(${GATE_LOCK})`);
    const run: CrashRun = { file, point: c.point, ready: join(dir, `${tag}.ready`), runId: `killed-${tag}` };
    const databases = [new URL(sourceUrl).pathname.slice(1), new URL(targetUrl).pathname.slice(1)];
    return { c, name, file, run, source, target, gate, databases, oldRows, oldCursor, newRows };
  }

  /** Resolves once the case's run stands at its point. */
  async function reached(p: Prepared): Promise<void> {
    if (p.c.point !== 'mid-copy') {
      await until(`${p.name} to reach ${p.c.point}`, async () => (existsSync(p.run.ready) ? true : undefined));
      return;
    }
    await copyMidStream(p.gate, p.databases[0] as string, p.databases[1] as string, p.name);
  }

  beforeAll(async () => {
    server = await startTestPostgres();
    dir = await mkdtemp(join(tmpdir(), 'pgferry-crash-'));
    for (const p of await Promise.all(CASES.map(prepare))) prepared.set(p.c, p);
    const all = [...prepared.values()];
    await runAndKill(
      all.map((p) => p.run),
      join(dir, 'plan.json'),
      () => Promise.all(all.map(reached)),
    );
    for (const p of all) {
      if (p.c.point !== 'mid-copy') continue;
      // The killed COPY left its staging behind, with the chunks before the gate's recorded (or none, if the gate's chunk ran first).
      const staged = await p.target.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgferry_staging' AND c.relname LIKE '%_done'`,
      );
      expect(staged.rows[0]?.n).toBe(1);
      await p.gate.query(`SELECT pg_advisory_unlock(${GATE_LOCK})`);
    }
    // The server notices the dead client and rolls its transactions back.
    const databases = all.flatMap((p) => p.databases);
    const admin = all[0]?.gate;
    await until("the killed runs' sessions to end", async () => {
      const r = await admin?.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ANY($1) AND application_name = 'pgferry'`, [
        databases,
      ]);
      return r?.rows[0]?.n === 0 ? true : undefined;
    });
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.concurrent('a run that takes over an expired lease marks the dead holder failed', async ({ expect }) => {
    // Regression: a run whose expired lease was taken over stayed 'running' in the runs table forever.
    const sourceUrl = await server.createDatabase('tosrc');
    const targetUrl = await server.createDatabase('todst');
    const source = await server.client(sourceUrl);
    const target = await server.client(targetUrl);
    await source.query(`CREATE TABLE public.events (id bigint PRIMARY KEY, v text)`);
    await source.query(`INSERT INTO public.events SELECT g, 'v' || g FROM generate_series(1, 10) g`);
    const config = pipelineConfig(sourceUrl, targetUrl, {
      name: 'takeover',
      source: { table: { schema: 'public', name: 'events' } },
      sink: { table: { schema: 'public', name: 'events' } },
    });
    expect((await runLocal(config)).status).toBe('succeeded');
    // A run that died holding the lease, which has since expired.
    await target.query(`INSERT INTO pgferry.runs (run_id, pipeline, status) VALUES ('dead-run', 'takeover', 'running')`);
    await target.query(`UPDATE pgferry.pipeline_state SET lease_run_id = 'dead-run', lease_until = now() - interval '1 second' WHERE pipeline = 'takeover'`);
    const next = await runLocal(config, { runId: 'next-run' });
    expect(next.status).toBe('succeeded');
    const dead = await target.query(`SELECT status, error, finished_at IS NOT NULL AS finished FROM pgferry.runs WHERE run_id = 'dead-run'`);
    expect(dead.rows).toEqual([{ status: 'failed', error: { name: 'LeaseLostError', message: 'lease expired; taken over by run next-run' }, finished: true }]);
  });

  for (const c of CASES) {
    it.concurrent(`${c.strategy}: killed ${c.point}, then recovered by ${c.recover === 'unlock' ? 'state unlock' : 'lease expiry'}`, async ({ expect }) => {
      const p = prepared.get(c);
      if (!p) throw new Error('case not prepared');
      const { name, file, target, source, oldRows, oldCursor, newRows } = p;
      const runId = p.run.runId;
      const readCursor = async (): Promise<unknown> =>
        (await target.query(`SELECT cursor FROM pgferry.pipeline_state WHERE pipeline = $1`, [name])).rows[0]?.cursor;
      const killed = async () => (await target.query(`SELECT status, error FROM pgferry.runs WHERE run_id = $1`, [runId])).rows[0];
      const lease = async () => (await target.query(`SELECT lease_run_id FROM pgferry.pipeline_state WHERE pipeline = $1`, [name])).rows[0]?.lease_run_id;
      const stagingTables = async (): Promise<number> =>
        (
          await target.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgferry_staging' AND c.relkind = 'r'`,
          )
        ).rows[0]?.n ?? 0;
      const committed = c.point === 'after-apply';

      // Old rows with the old cursor, or new rows with the new cursor: never in between.
      const rowsNow = await rowHashes(target, 'public.events');
      const cursorNow = await readCursor();
      if (committed) {
        expect(rowsNow).toEqual(newRows);
        expect(cursorNow).not.toEqual(oldCursor);
        expect(await killed()).toMatchObject({ status: 'succeeded' });
        expect(await lease()).toBeNull();
      } else {
        expect(rowsNow).toEqual(oldRows);
        expect(cursorNow).toEqual(oldCursor);
        expect(await killed()).toMatchObject({ status: 'running' });
        expect(await lease()).toBe(runId);
        // While the dead run holds the lease, another run changes nothing and exits 3.
        const blocked = await cli('run', file, '--json');
        expect(blocked.code).toBe(3);
        expect(JSON.parse(blocked.stdout.at(-1) ?? '{}')).toMatchObject({ status: 'skipped', error: { name: 'LeaseHeldError' } });
        expect(await rowHashes(target, 'public.events')).toEqual(oldRows);
      }
      // The dead run's staging table and done table are still there.
      expect(await stagingTables()).toBe(2);

      if (!committed && c.recover === 'unlock') {
        const unlocked = await cli('state', 'unlock', file);
        expect(unlocked.code).toBe(0);
        expect(unlocked.stderr.join('\n')).toContain(`released the lease of run ${runId} (marked failed)`);
        expect(await killed()).toMatchObject({ status: 'failed', error: { name: 'LeaseLostError', message: 'lease released by pgferry state unlock' } });
      } else if (!committed) {
        // As if the 15-minute lease had run out.
        await target.query(`UPDATE pgferry.pipeline_state SET lease_until = now() - interval '1 second' WHERE pipeline = $1`, [name]);
      }

      const rerun = await cli('run', file, '--json');
      expect(rerun.code, rerun.stderr.join('\n')).toBe(0);
      const summary = JSON.parse(rerun.stdout.at(-1) ?? '{}');
      expect(summary.status).toBe('succeeded');
      if (committed && c.strategy === 'append_column') expect(summary.rowsInserted).toBe(0);
      expect(await rowHashes(target, 'public.events')).toEqual(newRows);
      const dup = await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT id FROM public.events GROUP BY id HAVING count(*) > 1) d`);
      expect(dup.rows[0]?.n).toBe(0);
      if (c.strategy !== 'upsert_xmin') {
        const max = await source.query<{ m: string }>(`SELECT max(updated_at)::text AS m FROM public.events`);
        expect(await readCursor()).toMatchObject({ strategy: 'column', value: max.rows[0]?.m });
      } else {
        expect(await readCursor()).toEqual(summary.cursorAfter);
      }
      // The next run dropped what the dead one left, and its own.
      expect(await stagingTables()).toBe(0);
      expect(await lease()).toBeNull();

      // The runs table tells the story: the killed run failed (or succeeded, when it died after its commit), the rerun succeeded.
      const runs = await target.query<{ run_id: string; status: string; error: { name: string; message: string } | null }>(
        `SELECT run_id, status, error FROM pgferry.runs WHERE pipeline = $1 ORDER BY started_at`,
        [name],
      );
      expect(runs.rows.map((r) => r.status)).toEqual(['succeeded', committed ? 'succeeded' : 'failed', 'succeeded']);
      expect(runs.rows[1]?.run_id).toBe(runId);
      if (!committed && c.recover === 'expiry') {
        expect(runs.rows[1]?.error).toMatchObject({ name: 'LeaseLostError', message: `lease expired; taken over by run ${summary.runId}` });
      }
      if (c.point !== 'mid-copy') expect(JSON.parse(await readFile(p.run.ready, 'utf8'))).toMatchObject({ point: c.point, runId });
    });
  }
});

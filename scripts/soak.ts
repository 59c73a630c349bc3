/**
 * `npm run soak [-- --minutes N] [--strategy merge_column,append_xmin,...] [--writers N] [--long-writers N]
 *   [--seed-rows N] [--lookback-seconds N] [--json]`
 *
 * Writers keep inserting, updating and deleting rows (with rollbacks, savepoints and long transactions that
 * commit late) while every soak pipeline runs again and again; after each run the target must be a
 * consistent state, after the last one equal to the source. Runs on an embedded PostgreSQL, or on the
 * server of PGFERRY_TEST_PG_URL (it creates and drops its own databases there). Exit code 0 when every
 * check passed.
 */
import '../lib/local/polyfills.ts';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres } from '../lib/local/embedded.ts';
import { formatReport, runSoak, SCENARIOS } from '../test/soak/soak.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    strategy: { type: 'string' },
    writers: { type: 'string', default: '3' },
    'long-writers': { type: 'string', default: '1' },
    'seed-rows': { type: 'string', default: '20000' },
    'lookback-seconds': { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
  },
});

const names = values.strategy
  ?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = names?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown --strategy ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const scenarios = names ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS;
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error('--minutes: expected a number > 0');
  process.exit(2);
}

// The soak opens many sessions at once: writers, checkers and every pipeline's tasks.
const external = process.env.PGFERRY_TEST_PG_URL;
const embedded = external
  ? undefined
  : await startEmbeddedPostgres({ settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' } });
const adminUrl = external ?? embedded?.url('postgres') ?? '';
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
const suffix = `${process.pid}_${Date.now().toString(36)}`;
const databases = [`soak_src_${suffix}`, `soak_dst_${suffix}`];
const urlOf = (db: string): string => {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
};
let code = 1;
try {
  for (const db of databases) await admin.query(`CREATE DATABASE "${db}"`);
  const report = await runSoak({
    durationMs: minutes * 60_000,
    sourceUrl: urlOf(databases[0] ?? ''),
    targetUrl: urlOf(databases[1] ?? ''),
    connect: async (url) => {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    },
    scenarios,
    writers: Number(values.writers),
    longWriters: Number(values['long-writers']),
    seedRows: Number(values['seed-rows']),
    lookbackSeconds: Number(values['lookback-seconds']),
    log: (line) => console.error(line),
  });
  for (const line of formatReport(report)) console.error(line);
  if (values.json) console.log(JSON.stringify(report));
  code = report.problems.length === 0 ? 0 : 1;
} finally {
  for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
  await admin.end().catch(() => undefined);
  await embedded?.stop();
}
process.exit(code);

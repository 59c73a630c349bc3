/**
 * TLS end to end: a server that accepts TLS connections only (every `host` line of pg_hba.conf made `hostssl`),
 * with a certificate for 127.0.0.1 signed by a test CA (test/fixtures/tls: certificates and a key made for
 * these tests only, valid until 2126). The run goes through bin/pgferry.js in its own process, so where the
 * CLI bundle is current (a clean install) it is the bundle's socket functions for pg that open the TLS
 * connections (scripts/build-cli.mjs).
 */
import { chmod, chown, copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, resolveConnection } from '../../lib/connections/index.ts';
import { ConnectionError } from '../../lib/errors.ts';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../lib/local/embedded.ts';
import { runBin } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'tls');
const CA = join(FIXTURES, 'ca.crt');
const OTHER_CA = join(FIXTURES, 'other-ca.crt');

/** Puts the certificate and key into the data directory, owned like it (PostgreSQL refuses a key others can read), and allows TLS only. */
async function tlsOnly(dataDir: string): Promise<void> {
  const owner = await stat(dataDir);
  for (const [file, mode] of [
    ['server.crt', 0o644],
    ['server.key', 0o600],
  ] as const) {
    const to = join(dataDir, file);
    await copyFile(join(FIXTURES, file), to);
    await chmod(to, mode);
    await chown(to, owner.uid, owner.gid);
  }
  const hba = join(dataDir, 'pg_hba.conf');
  const rules = await readFile(hba, 'utf8');
  const sslOnly = rules.replace(/^host(\s)/gm, 'hostssl$1');
  if (!/^hostssl\s/m.test(sslOnly)) throw new Error(`${hba} has no host line to turn into hostssl`);
  await writeFile(hba, sslOnly);
}

let server: EmbeddedServer;
let dir: string;

/** The server's URL for a database, with TLS options. */
function tlsUrl(database: string, params: string): string {
  return `${server.url(database)}?${params}`;
}

/** Runs `work` on a pg client of `database` that trusts the test CA, then closes it. */
async function withClient<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server.url(database), ssl: { ca: await readFile(CA, 'utf8') } });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  server = await startEmbeddedPostgres({ settings: { ssl: 'on' }, beforeStart: tlsOnly });
  dir = tempDir('pgferry-tls-');
  await withClient('postgres', async (admin) => {
    await admin.query('CREATE DATABASE src');
    await admin.query('CREATE DATABASE dst');
  });
  await withClient('src', async (src) => {
    await src.query('CREATE TABLE public.items (id bigint PRIMARY KEY, label text NOT NULL)');
    await src.query(`INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 2500) g`);
  });
});

afterAll(async () => {
  await server?.stop();
});

describe('Feature: TLS connections to source, target and state', () => {
  it('a full refresh through bin/pgferry.js (source on verify-full, target and state on verify-ca, the test CA) copies every row', async () => {
    const source = tlsUrl('src', `sslmode=verify-full&sslrootcert=${encodeURIComponent(CA)}`);
    const target = tlsUrl('dst', `sslmode=verify-ca&sslrootcert=${encodeURIComponent(CA)}`);
    const file = join(dir, 'tls.yaml');
    await writeFile(
      file,
      [
        'name: tls_items',
        `source: {type: postgres, connection_type: url, connection_id: ${JSON.stringify(source)}, table: {schema: public, name: items}}`,
        `sink: {type: postgres, connection_type: url, connection_id: ${JSON.stringify(target)}, table: {schema: public, name: items}, strategy: {mode: full_refresh, overwrite_type: exchange}}`,
        '',
      ].join('\n'),
    );
    const { code, stdout, stderr } = await runBin('run', file, '--json');
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { status?: string; rowsExtracted?: number };
    expect(summary).toMatchObject({ status: 'succeeded', rowsExtracted: 2500 });
    const { rows } = await withClient('dst', (dst) => dst.query<{ n: string; s: string }>('SELECT count(*) AS n, sum(id) AS s FROM public.items'));
    expect(rows[0]).toEqual({ n: '2500', s: String((2500 * 2501) / 2) });
  });

  it('the server refuses a connection without TLS, so the run above went over TLS', async () => {
    const settings = await resolveConnection({ connection_id: tlsUrl('dst', 'sslmode=disable'), connection_type: 'url', connection_params: {} });
    await expect(connect(settings)).rejects.toThrow(/no encryption/);
  });

  it('a certificate that another CA signed is refused, and the message says where to look', async () => {
    const settings = await resolveConnection({
      connection_id: tlsUrl('dst', `sslmode=verify-ca&sslrootcert=${encodeURIComponent(OTHER_CA)}`),
      connection_type: 'url',
      connection_params: {},
    });
    const error = await connect(settings).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toMatch(/TLS: .*\(check sslmode, sslrootcert and PGFERRY_CA_BUNDLE\)/);
  });
});

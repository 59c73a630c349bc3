import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../lib/local/embedded.ts';
import { ConnectionError, DatabaseError, TransientDatabaseError } from '../../lib/errors.ts';
import { classifyDatabaseError, clearSecretCache, connect, openConnection, resolveConnection, type ConnectionSettings } from '../../lib/connections/index.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';

let server: TestPostgres;
let url: string;
let settings: ConnectionSettings;
let admin: pg.Client;
const opened: pg.Client[] = [];

/** Connects and remembers the client, so afterAll closes it. */
async function track(client: Promise<pg.Client>): Promise<pg.Client> {
  const c = await client;
  opened.push(c);
  return c;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    opened.push((await promise) as pg.Client);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  server = await startTestPostgres();
  url = await server.createDatabase('conn');
  admin = await server.client(url);
  settings = await resolveConnection({ connection_id: url, connection_type: 'url', connection_params: {} });
});

afterAll(async () => {
  await Promise.all(opened.map((c) => c.end().catch(() => undefined)));
  await server?.stop();
});

describe('Function: connect', () => {
  it('pins the session settings whatever the database defaults are', async () => {
    await admin.query(`ALTER DATABASE "${settings.database}" SET timezone = 'Asia/Tokyo'`);
    await admin.query(`ALTER DATABASE "${settings.database}" SET DateStyle = 'SQL, DMY'`);
    await admin.query(`ALTER DATABASE "${settings.database}" SET IntervalStyle = 'iso_8601'`);
    await admin.query(`ALTER DATABASE "${settings.database}" SET extra_float_digits = 0`);
    const client = await track(connect(settings));
    const show = async (name: string): Promise<string> => (await client.query<{ v: string }>(`SELECT current_setting('${name}') AS v`)).rows[0]!.v;
    expect(await show('TimeZone')).toBe('UTC');
    expect(await show('DateStyle')).toBe('ISO, MDY');
    expect(await show('IntervalStyle')).toBe('postgres');
    expect(await show('extra_float_digits')).toBe('3');
    expect(await show('client_encoding')).toBe('UTF8');
    expect(await show('standard_conforming_strings')).toBe('on');
    expect(await show('application_name')).toBe('pgferry');
    expect(await show('default_transaction_read_only')).toBe('off');
    const { rows } = await client.query<{ t: string }>(`SELECT '2024-03-01 12:00:00+00'::timestamptz::text AS t`);
    expect(rows[0]!.t).toBe('2024-03-01 12:00:00+00');
  });

  it('sets the statement timeout when one is configured', async () => {
    const client = await track(connect({ ...settings, statementTimeoutMs: 1234 }));
    const { rows } = await client.query<{ v: string }>(`SELECT current_setting('statement_timeout') AS v`);
    expect(rows[0]!.v).toBe('1234ms');
  });

  it('opens a read-only session that refuses writes (SQLSTATE 25006)', async () => {
    const client = await track(connect(settings, { readOnly: true }));
    const err = await client.query('CREATE TABLE nope (id int)').then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    expect(err?.code).toBe('25006');
  });

  it('fails with a ConnectionError naming the target, never the password, on a wrong password', async () => {
    const err = await rejection(connect({ ...settings, password: 'wrong-password-123' }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('28P01');
    expect(err.message).toContain(`authentication failed for ${settings.user}@${settings.host}:${settings.port}/${settings.database}`);
    expect(err.message).not.toContain('wrong-password-123');
    expect(err.message).not.toContain(settings.password!);
  });

  it('fails with a ConnectionError on an unknown database (SQLSTATE 3D000)', async () => {
    const err = await rejection(connect({ ...settings, database: 'no_such_db' }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('3D000');
    expect(err.message).toContain('no_such_db');
  });

  it('fails with a ConnectionError when nothing listens on the port', async () => {
    const err = await rejection(connect({ ...settings, port: await freePort() }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('ECONNREFUSED');
    expect(err.message).toContain('connection refused');
  });

  it('fails with a ConnectionError when TLS is required and the server has none', async () => {
    const err = await rejection(connect({ ...settings, sslmode: 'require' }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('check sslmode');
  });
});

describe('Function: openConnection', () => {
  const sm = mockClient(SecretsManagerClient);
  const secrets = new SecretsManagerClient({ region: 'eu-west-1' });

  beforeEach(() => {
    sm.reset();
    clearSecretCache();
  });

  afterAll(() => {
    sm.restore();
  });

  function secret(password: string): { SecretString: string } {
    return {
      SecretString: JSON.stringify({
        engine: 'postgres',
        host: settings.host,
        port: String(settings.port),
        username: settings.user,
        password,
        dbname: settings.database,
      }),
    };
  }

  it('re-reads a rotated secret once after an authentication failure', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce(secret('stale-password')).resolvesOnce(secret(settings.password!));
    const client = await track(
      openConnection({ connection_id: 'rds!rotated', connection_type: 'secretsmanager', connection_params: { sslmode: 'disable' } }, { secrets }),
    );
    expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('gives up with the ConnectionError when the re-read secret still fails', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce(secret('stale-1')).resolvesOnce(secret('stale-2'));
    const err = await rejection(
      openConnection({ connection_id: 'prod/still-wrong', connection_type: 'secretsmanager', connection_params: { sslmode: 'disable' } }, { secrets }),
    );
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('28P01');
    expect(err.message).not.toContain('stale-2');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('does not re-read the secret for an error other than authentication', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ host: settings.host, port: settings.port, username: settings.user, password: settings.password, dbname: 'no_such_db' }),
    });
    const err = await rejection(
      openConnection({ connection_id: 'prod/no-db', connection_type: 'secretsmanager', connection_params: { sslmode: 'disable' } }, { secrets }),
    );
    expect((err as ConnectionError).code).toBe('3D000');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('opens a read-only session when asked', async () => {
    const client = await track(openConnection({ connection_id: url, connection_type: 'url', connection_params: {} }, { readOnly: true }));
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('default_transaction_read_only') AS v");
    expect(rows[0]!.v).toBe('on');
  });
});

describe('Function: classifyDatabaseError', () => {
  it('maps a statement timeout to a DatabaseError with SQLSTATE 57014', async () => {
    const client = await track(connect({ ...settings, statementTimeoutMs: 50 }));
    const err = await client.query('SELECT pg_sleep(5)').then(
      () => new Error('expected a timeout'),
      (e: unknown) => classifyDatabaseError(e, 'sleeping'),
    );
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).code).toBe('57014');
    expect(err.message).toMatch(/^sleeping: .*statement timeout.* \(SQLSTATE 57014\)$/);
  });

  it('maps a backend terminated from another session to a TransientDatabaseError', async () => {
    const victim = await track(connect(settings));
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    // The 'error' listener keeps the dropped session from crashing the process; the next query fails.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const err = await victim.query('SELECT 1').then(
      () => new Error('expected a failure'),
      (e: unknown) => classifyDatabaseError(e, 'reading'),
    );
    expect(err).toBeInstanceOf(TransientDatabaseError);
  });
});

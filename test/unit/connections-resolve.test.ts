import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../lib/errors.ts';
import {
  clearSecretCache,
  describeConnection,
  envId,
  invalidateSecret,
  redact,
  redactUrl,
  registerSecret,
  resolveConnection,
  type ConnectionParams,
  type ConnectionRef,
} from '../../lib/connections/index.ts';

const sm = mockClient(SecretsManagerClient);
const secrets = new SecretsManagerClient({ region: 'eu-west-1' });

function ref(connection_type: ConnectionRef['connection_type'], connection_id: string, connection_params: ConnectionParams = {}): ConnectionRef {
  return { connection_id, connection_type, connection_params };
}

/** The error a promise rejects with, for assertions on its fields. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

beforeEach(() => {
  sm.reset();
  clearSecretCache();
});

afterEach(() => {
  sm.reset();
});

describe('Function: resolveConnection (env)', () => {
  it('upper-cases the id and turns every non-alphanumeric into _', () => {
    expect(envId('orders-oltp.v2')).toBe('ORDERS_OLTP_V2');
  });

  it('reads PGFERRY_CONN_<ID>_URL', async () => {
    const env = { PGFERRY_CONN_ORDERS_OLTP_V2_URL: 'postgresql://app:s3cret@db.example.com:6432/orders?sslmode=verify-full' };
    const settings = await resolveConnection(ref('env', 'orders-oltp.v2'), { env });
    expect(settings).toEqual({
      host: 'db.example.com',
      port: 6432,
      database: 'orders',
      user: 'app',
      password: 's3cret',
      sslmode: 'verify-full',
      applicationName: 'pgferry',
      connectTimeoutSeconds: 10,
      source: 'env',
    });
  });

  it('reads the field variables, with a string port and sslmode disable by default', async () => {
    const env = {
      PGFERRY_CONN_WAREHOUSE_HOST: 'wh.internal',
      PGFERRY_CONN_WAREHOUSE_PORT: '5433',
      PGFERRY_CONN_WAREHOUSE_DATABASE: 'dw',
      PGFERRY_CONN_WAREHOUSE_USERNAME: 'loader',
      PGFERRY_CONN_WAREHOUSE_PASSWORD: 'pw-field',
    };
    const settings = await resolveConnection(ref('env', 'warehouse'), { env });
    expect(settings).toMatchObject({ host: 'wh.internal', port: 5433, database: 'dw', user: 'loader', password: 'pw-field', sslmode: 'disable' });
  });

  it('lets the field variables fill what the URL leaves out', async () => {
    const env = { PGFERRY_CONN_A_URL: 'postgres://app@h/db', PGFERRY_CONN_A_PASSWORD: 'kept-apart', PGFERRY_CONN_A_HOST: 'ignored' };
    const settings = await resolveConnection(ref('env', 'a'), { env });
    expect(settings).toMatchObject({ host: 'h', user: 'app', password: 'kept-apart' });
  });

  it('names the missing fields and the variables it looked at, never the password', async () => {
    const env = { PGFERRY_CONN_ORDERS_PASSWORD: 'hunter2-env', PGFERRY_CONN_ORDERS_USERNAME: 'app' };
    const err = await rejection(resolveConnection(ref('env', 'orders'), { env }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('connection "orders"');
    expect(err.message).toContain('missing host, database');
    expect(err.message).toContain('PGFERRY_CONN_ORDERS_URL');
    expect(err.message).toContain('PGFERRY_CONN_ORDERS_HOST');
    expect(err.message).toContain('PGFERRY_CONN_ORDERS_DATABASE');
    expect(err.message).not.toContain('hunter2-env');
  });

  it('refuses an unknown sslmode, naming the accepted ones', async () => {
    const env = { PGFERRY_CONN_X_URL: 'postgres://u@h/d', PGFERRY_CONN_X_SSLMODE: 'prefer' };
    const err = await rejection(resolveConnection(ref('env', 'x'), { env }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toMatch(/PGFERRY_CONN_X_SSLMODE "prefer" is not supported; use disable, require, verify-ca, verify-full/);
  });
});

describe('Function: resolveConnection (url)', () => {
  it('percent-decodes user, password and database and honours the query parameters', async () => {
    const url = 'postgres://r%40ader:p%40ss%3Aw%2Fd@localhost:5440/my%20db?sslmode=require&application_name=nightly&connect_timeout=3';
    const settings = await resolveConnection(ref('url', url));
    expect(settings).toMatchObject({
      host: 'localhost',
      port: 5440,
      database: 'my db',
      user: 'r@ader',
      password: 'p@ss:w/d',
      sslmode: 'require',
      applicationName: 'nightly',
      connectTimeoutSeconds: 3,
      source: 'url',
    });
  });

  it('applies the defaults: port 5432, application_name pgferry, connect_timeout 10, sslmode disable', async () => {
    const settings = await resolveConnection(ref('url', 'postgresql://u@h/d'));
    expect(settings).toMatchObject({ port: 5432, applicationName: 'pgferry', connectTimeoutSeconds: 10, sslmode: 'disable' });
    expect(settings.password).toBeUndefined();
  });

  it('accepts a unix-socket directory as ?host=', async () => {
    const settings = await resolveConnection(ref('url', 'postgresql://u@/d?host=/var/run/postgresql'));
    expect(settings).toMatchObject({ host: '/var/run/postgresql', user: 'u', database: 'd' });
  });

  it('strips the brackets of an IPv6 host', async () => {
    const settings = await resolveConnection(ref('url', 'postgres://u@[::1]:5433/d'));
    expect(settings).toMatchObject({ host: '::1', port: 5433 });
  });

  it('merges connection_params under the URL: the URL wins, params fill gaps', async () => {
    const params: ConnectionParams = {
      host: 'other',
      port: 7000,
      database: 'fallback',
      username: 'nobody',
      application_name: 'from-params',
      statement_timeout: 60000,
      sslmode: 'verify-ca',
    };
    const settings = await resolveConnection(ref('url', 'postgres://app@h:5433/db', params));
    expect(settings).toMatchObject({
      host: 'h',
      port: 5433,
      database: 'db',
      user: 'app',
      applicationName: 'from-params',
      statementTimeoutMs: 60000,
      sslmode: 'verify-ca',
    });
  });

  it('takes host, database and user from connection_params when the URL has none', async () => {
    const settings = await resolveConnection(ref('url', 'postgres://', { host: 'h', database: 'd', username: 'u' }));
    expect(settings).toMatchObject({ host: 'h', database: 'd', user: 'u' });
  });

  it('refuses something that is not a postgres URL, with the password masked', async () => {
    const err = await rejection(resolveConnection(ref('url', 'mysql://u:topsecret@h/d')));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('not a postgres:// or postgresql:// URL');
    expect(err.message).not.toContain('topsecret');
  });

  it('refuses a bad port', async () => {
    const err = await rejection(resolveConnection(ref('url', 'postgres://u@h/d?port=99999')));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('port must be a port number');
  });

  it('never puts the password of a URL missing its database into the error', async () => {
    const err = await rejection(resolveConnection(ref('url', 'postgres://u:url-pass-42@h')));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('missing database');
    expect(err.message).not.toContain('url-pass-42');
  });
});

describe('Function: resolveConnection (secretsmanager)', () => {
  const rdsSecret = {
    engine: 'postgres',
    host: 'orders.abc.eu-west-1.rds.amazonaws.com',
    port: 5432,
    username: 'app',
    password: 'sm-pass-1',
    dbname: 'orders',
  };

  it('reads the RDS secret format and defaults to verify-full', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(rdsSecret) });
    const settings = await resolveConnection(ref('secretsmanager', 'prod/orders'), { secrets });
    expect(settings).toEqual({
      host: rdsSecret.host,
      port: 5432,
      database: 'orders',
      user: 'app',
      password: 'sm-pass-1',
      sslmode: 'verify-full',
      applicationName: 'pgferry',
      connectTimeoutSeconds: 10,
      source: 'secretsmanager',
    });
    expect(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: 'prod/orders' });
  });

  it('accepts the database/user aliases, database and username winning, and a string port', async () => {
    const secret = { host: 'h', port: '6543', dbname: 'loses', database: 'wins', user: 'loses', username: 'wins', password: 'x' };
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(secret) });
    const settings = await resolveConnection(ref('secretsmanager', 'aliases'), { secrets });
    expect(settings).toMatchObject({ port: 6543, database: 'wins', user: 'wins' });
  });

  it('takes host, port and database of an RDS-managed secret from connection_params', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'postgres', password: 'managed-pw' }) });
    const params: ConnectionParams = { host: 'db.internal', port: 5433, database: 'orders', username: 'ignored' };
    const settings = await resolveConnection(ref('secretsmanager', 'rds!db-0123-abcd', params), { secrets });
    expect(settings).toMatchObject({ host: 'db.internal', port: 5433, database: 'orders', user: 'postgres', password: 'managed-pw', sslmode: 'verify-full' });
  });

  it('lets the secret win over connection_params', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(rdsSecret) });
    const settings = await resolveConnection(ref('secretsmanager', 'prod/orders', { host: 'proxy', port: 1234, sslmode: 'verify-ca' }), { secrets });
    expect(settings).toMatchObject({ host: rdsSecret.host, port: 5432, sslmode: 'verify-ca' });
  });

  it('reads a secret once per process (container)', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(rdsSecret) });
    await resolveConnection(ref('secretsmanager', 'prod/orders'), { secrets });
    await resolveConnection(ref('secretsmanager', 'prod/orders'), { secrets });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('reads the secret again after invalidateSecret', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify(rdsSecret) })
      .resolvesOnce({ SecretString: JSON.stringify({ ...rdsSecret, password: 'sm-pass-2' }) });
    const before = await resolveConnection(ref('secretsmanager', 'prod/orders'), { secrets });
    invalidateSecret('prod/orders');
    const after = await resolveConnection(ref('secretsmanager', 'prod/orders'), { secrets });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect([before.password, after.password]).toEqual(['sm-pass-1', 'sm-pass-2']);
  });

  it('names the secret and the AWS error when the secret does not exist, and does not cache the failure', async () => {
    sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }));
    const err = await rejection(resolveConnection(ref('secretsmanager', 'prod/missing'), { secrets }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toBe('cannot read secret "prod/missing" from Secrets Manager: ResourceNotFoundException');
    expect((err as ConnectionError).code).toBe('ResourceNotFoundException');
    await rejection(resolveConnection(ref('secretsmanager', 'prod/missing'), { secrets }));
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('refuses a secret that is not JSON without quoting it', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'host=h password=plain-text-pw' });
    const err = await rejection(resolveConnection(ref('secretsmanager', 'broken'), { secrets }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('secret "broken" is not valid JSON');
    expect(err.message).not.toContain('plain-text-pw');
    expect(String((err as Error & { cause?: unknown }).cause ?? '')).not.toContain('plain-text-pw');
  });

  it('names the missing host of an RDS-managed secret without showing its password', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'postgres', password: 'managed-pw-9' }) });
    const err = await rejection(resolveConnection(ref('secretsmanager', 'rds!db-1'), { secrets }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('missing host, database');
    expect(err.message).toContain('secret "rds!db-1"');
    expect(err.message).toContain('connection_params.host');
    expect(err.message).not.toContain('managed-pw-9');
  });
});

describe('Function: redact', () => {
  it('masks the password of a postgres URL', () => {
    expect(redactUrl('postgres://app:s3cr%40t@h:5432/db?sslmode=require')).toBe('postgres://app:***@h:5432/db?sslmode=require');
    expect(redact('failed: postgresql://u:pw@h/d and postgres://v@h/d')).toBe('failed: postgresql://u:***@h/d and postgres://v@h/d');
    expect(redactUrl('postgres://u@h/d?password=abc&sslmode=require')).toBe('postgres://u@h/d?password=***&sslmode=require');
  });

  it('masks every registered secret, in plain and percent-encoded form', () => {
    registerSecret('a/b c-registered');
    expect(redact('oops a/b c-registered and a%2Fb%20c-registered')).toBe('oops *** and ***');
  });

  it('masks every password that resolveConnection returned', async () => {
    const settings = await resolveConnection(ref('env', 'r'), { env: { PGFERRY_CONN_R_URL: 'postgres://u:resolved-pw-77@h/d' } });
    expect(redact(`something said resolved-pw-77 to ${describeConnection(settings)}`)).toBe('something said *** to u@h:5432/d');
  });
});

import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ConnectionError, DatabaseError, LeaseLostError, RETRYABLE_ERRORS, ServerUnreachableError, TransientDatabaseError } from '../../lib/errors.ts';
import { classifyConnectError, classifyDatabaseError, describeConnection, SESSION_SETTINGS, sessionSql } from '../../lib/connections/index.ts';

function serverError(code: string, message: string): pg.DatabaseError {
  const err = new pg.DatabaseError(message, 0, 'error');
  err.code = code;
  err.severity = 'ERROR';
  return err;
}

function socketError(code: string, message = `read ${code}`): Error {
  return Object.assign(new Error(message), { code });
}

const target = { user: 'app', host: 'db', port: 5432, database: 'orders' };

describe('Function: classifyDatabaseError', () => {
  it.each(['08006', '08001', '57P01', '57P02', '57P03', '53300', '40001', '40P01'])('treats SQLSTATE %s as transient', (code) => {
    const err = classifyDatabaseError(serverError(code, 'boom'), 'copying public.orders');
    expect(err).toBeInstanceOf(TransientDatabaseError);
    expect((err as TransientDatabaseError).code).toBe(code);
    expect(err.message).toBe(`copying public.orders: boom (SQLSTATE ${code})`);
  });

  it.each(['57014', '42P01', '42703', '42501'])('treats SQLSTATE %s as a DatabaseError', (code) => {
    const cause = serverError(code, 'nope');
    const err = classifyDatabaseError(cause, 'ctx');
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).code).toBe(code);
    expect(err.message).toBe(`ctx: nope (SQLSTATE ${code})`);
    expect(err.cause).toBe(cause);
  });

  it.each([
    socketError('ECONNRESET'),
    socketError('EPIPE', 'write EPIPE'),
    socketError('ETIMEDOUT'),
    new Error('Connection terminated unexpectedly'),
    new Error('Client has encountered a connection error and is not queryable'),
  ])('treats a lost connection ($message) as transient', (cause) => {
    expect(classifyDatabaseError(cause, 'ctx')).toBeInstanceOf(TransientDatabaseError);
  });

  it('passes pgferry errors through untouched', () => {
    const own = new LeaseLostError('p', 'r');
    expect(classifyDatabaseError(own, 'ctx')).toBe(own);
  });

  it('masks URL passwords in the message', () => {
    const err = classifyDatabaseError(new Error('bad postgres://u:leaky@h/d'), 'ctx');
    expect(err.message).toBe('ctx: bad postgres://u:***@h/d');
  });
});

describe('Function: classifyConnectError', () => {
  it('reports an authentication failure with the target', () => {
    const err = classifyConnectError(serverError('28P01', 'password authentication failed for user "app"'), target);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('28P01');
    expect((err as ConnectionError).target).toBe('app@db:5432/orders');
    expect(err.message).toMatch(/^authentication failed for app@db:5432\/orders/);
  });

  it('reports an unknown database', () => {
    const err = classifyConnectError(serverError('3D000', 'database "orders" does not exist'), target);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('3D000');
  });

  it.each([socketError('ECONNREFUSED'), socketError('ENOTFOUND')])('reports $code as a ConnectionError', (cause) => {
    expect(classifyConnectError(cause, target)).toBeInstanceOf(ConnectionError);
  });

  it.each([socketError('ECONNREFUSED'), socketError('ENOTFOUND')])(
    'reports $code as ServerUnreachableError, which the state machine retries (a failing-over RDS instance refuses, its name may not resolve)',
    (cause) => {
      const err = classifyConnectError(cause, target);
      expect(err).toBeInstanceOf(ServerUnreachableError);
      expect(err.name).toBe('ServerUnreachableError');
      expect(RETRYABLE_ERRORS as readonly string[]).toContain(err.name);
    },
  );

  it('never retries an authentication failure', () => {
    const err = classifyConnectError(serverError('28P01', 'password authentication failed for user "u"'), target);
    expect(err.name).toBe('ConnectionError');
    expect(RETRYABLE_ERRORS as readonly string[]).not.toContain(err.name);
  });

  it.each([
    serverError('57P03', 'the database system is starting up'),
    serverError('53300', 'sorry, too many clients already'),
    socketError('ECONNRESET'),
    socketError('ETIMEDOUT'),
    new Error('Connection terminated due to connection timeout'),
    new Error('Connection terminated unexpectedly'),
  ])('reports $message as transient', (cause) => {
    const err = classifyConnectError(cause, target);
    expect(err).toBeInstanceOf(TransientDatabaseError);
    expect(err.message).toContain(describeConnection(target));
  });

  it('reports a refused localhost (an AggregateError with no message) by its code', () => {
    const cause = Object.assign(new AggregateError([socketError('ECONNREFUSED', 'connect ECONNREFUSED ::1:5432')], ''), { code: 'ECONNREFUSED' });
    const err = classifyConnectError(cause, target);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('connection refused');
  });

  it('hints at sslmode for a certificate problem', () => {
    const err = classifyConnectError(socketError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), target);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('check sslmode');
  });
});

describe('Function: sessionSql', () => {
  it('pins every session setting in one batch of SET statements', () => {
    const sql = sessionSql({});
    for (const [name, value] of Object.entries(SESSION_SETTINGS)) expect(sql).toContain(`SET ${name} = '${value}';`);
    expect(sql).not.toContain('default_transaction_read_only');
  });

  it('adds the statement timeout and read-only mode when asked', () => {
    const sql = sessionSql({ statementTimeoutMs: 30000 }, { readOnly: true });
    expect(sql).toContain("SET statement_timeout = '30000';");
    expect(sql).toContain("SET default_transaction_read_only = 'on';");
  });
});

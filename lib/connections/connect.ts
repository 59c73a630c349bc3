/**
 * Opens sessions and maps what goes wrong to pgferry's errors: ConnectionError (will not pass by
 * itself), TransientDatabaseError (retried by the state machine) or DatabaseError.
 */
import pg from 'pg';
import { ConnectionError, DatabaseError, PgferryError, ServerUnreachableError, TransientDatabaseError } from '../errors.ts';
import { redact } from '../redact.ts';
import { resolveConnection, type ResolveDeps } from './resolve.ts';
import { invalidateSecret } from './secrets.ts';
import { tlsOptions } from './tls.ts';
import type { ConnectionRef, ConnectionSettings } from './types.ts';

/**
 * Settings every session pins, so values survive the trip whatever the server or role defaults are.
 * `standard_conforming_strings=on`: SQL literals are built with doubled quotes and rely on it.
 * `DateStyle` also pins the input order (MDY), not only the ISO output.
 */
export const SESSION_SETTINGS = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  client_encoding: 'UTF8',
  standard_conforming_strings: 'on',
} as const;

/** Options of `connect`. */
export interface ConnectOptions {
  /** Sets `default_transaction_read_only = on` (source connections). @default false */
  readOnly?: boolean;
}

/** `user@host:port/database`, never with the password. */
export function describeConnection(s: Pick<ConnectionSettings, 'user' | 'host' | 'port' | 'database'>): string {
  return `${s.user}@${s.host}:${s.port}/${s.database}`;
}

/** The `SET` statements pinning a session, sent as one simple-protocol query (one round trip). */
export function sessionSql(settings: Pick<ConnectionSettings, 'statementTimeoutMs'>, options: ConnectOptions = {}): string {
  const pins: [string, string][] = Object.entries(SESSION_SETTINGS);
  if (settings.statementTimeoutMs !== undefined) pins.push(['statement_timeout', String(Math.trunc(settings.statementTimeoutMs))]);
  if (options.readOnly === true) pins.push(['default_transaction_read_only', 'on']);
  return pins.map(([name, value]) => `SET ${name} = '${value.replace(/'/g, "''")}';`).join(' ');
}

/**
 * Opens a session and pins it with `SET` (not the `options` startup parameter, which RDS Proxy and
 * pgbouncer may refuse). Failures become ConnectionError or TransientDatabaseError naming the target.
 */
export async function connect(settings: ConnectionSettings, options: ConnectOptions = {}): Promise<pg.Client> {
  const client = new pg.Client({
    host: settings.host,
    port: settings.port,
    database: settings.database,
    user: settings.user,
    // Unset leaves pg to PGPASSWORD / ~/.pgpass, as libpq would.
    password: settings.password,
    ssl: tlsOptions(settings),
    application_name: settings.applicationName,
    connectionTimeoutMillis: Math.round(settings.connectTimeoutSeconds * 1000),
    keepAlive: true,
    // A peer that vanished without a reset (a dead NAT entry) is noticed in seconds, not after the OS's 2 h.
    keepAliveInitialDelayMillis: 10_000,
  });
  // A server that drops an idle session emits 'error' on the client; without a listener it would
  // crash the process. The next query on it fails and is classified as transient.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(sessionSql(settings, options));
  } catch (err) {
    await client.end().catch(() => undefined);
    throw classifyConnectError(err, settings);
  }
  return client;
}

/**
 * Resolves and connects. For a Secrets Manager connection an authentication failure re-reads the
 * secret once (it may have been rotated) and tries again with the new password.
 */
export async function openConnection(ref: ConnectionRef, deps: ResolveDeps & ConnectOptions = {}): Promise<pg.Client> {
  const options: ConnectOptions = deps.readOnly === undefined ? {} : { readOnly: deps.readOnly };
  const settings = await resolveConnection(ref, deps);
  try {
    return await connect(settings, options);
  } catch (err) {
    if (ref.connection_type !== 'secretsmanager' || !isAuthenticationFailure(err)) throw err;
    invalidateSecret(ref.connection_id);
    const fresh = await resolveConnection(ref, deps);
    // Same password again: trying it would only add a failed login.
    if (fresh.password === settings.password) throw err;
    return connect(fresh, options);
  }
}

const AUTH_FAILURES = new Set(['28P01', '28000']);

/** True for a ConnectionError raised because the server refused the credentials. */
export function isAuthenticationFailure(err: unknown): boolean {
  return err instanceof ConnectionError && err.code !== undefined && AUTH_FAILURES.has(err.code);
}

/** Node and pg errors of connecting that may pass when tried again. */
const TRANSIENT_CONNECT_CODES = new Set(['57P03', '53300', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE']);

/** Maps an error of opening a session to ConnectionError or TransientDatabaseError; the message names the target, never the password. */
export function classifyConnectError(err: unknown, settings: Pick<ConnectionSettings, 'user' | 'host' | 'port' | 'database'>): Error {
  if (err instanceof PgferryError) return err;
  const target = describeConnection(settings);
  const { code, message, sqlstate } = errorParts(err);
  if (code !== undefined && AUTH_FAILURES.has(code)) {
    return new ConnectionError(redact(`authentication failed for ${target}: ${message} (SQLSTATE ${code})`), target, code, { cause: err });
  }
  if (code === '3D000') {
    return new ConnectionError(redact(`database ${JSON.stringify(settings.database)} does not exist on ${target} (SQLSTATE 3D000)`), target, code, {
      cause: err,
    });
  }
  if ((code !== undefined && TRANSIENT_CONNECT_CODES.has(code)) || /timeout|terminated unexpectedly|Connection terminated/i.test(message)) {
    return new TransientDatabaseError(redact(`cannot connect to ${target}: ${message}${suffix(code, sqlstate)}`), code, { cause: err });
  }
  if (code === 'ECONNREFUSED') {
    return new ServerUnreachableError(redact(`cannot connect to ${target}: connection refused (is the server running and the port right?)`), target, code, {
      cause: err,
    });
  }
  if (code === 'ENOTFOUND') {
    return new ServerUnreachableError(redact(`cannot connect to ${target}: unknown host ${settings.host}`), target, code, { cause: err });
  }
  if (isTlsProblem(code, message)) {
    return new ConnectionError(
      redact(`cannot connect to ${target}: TLS: ${message}${suffix(code, sqlstate)} (check sslmode, sslrootcert and PGFERRY_CA_BUNDLE)`),
      target,
      code,
      { cause: err },
    );
  }
  const classified = classifyDatabaseError(err, `cannot connect to ${target}`);
  if (classified instanceof TransientDatabaseError) return classified;
  return new ConnectionError(classified.message, target, code, { cause: err });
}

/** SQLSTATEs that may pass when tried again. Class 08 (connection exception) is matched apart. */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);
/** Node socket error codes that mean the connection was lost. */
const TRANSIENT_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
const TRANSIENT_MESSAGES = /Connection terminated|Client has encountered a connection error/i;

/**
 * Maps an error raised by a query: lost connections, shutdowns, too many connections, serialization
 * failures and deadlocks to TransientDatabaseError; everything else (statement timeout 57014 too) to
 * DatabaseError with the SQLSTATE in `code`. pgferry's own errors pass through untouched.
 */
export function classifyDatabaseError(err: unknown, context: string): Error {
  if (err instanceof PgferryError) return err;
  const { code, message, sqlstate } = errorParts(err);
  const transient =
    (sqlstate && code !== undefined && (code.startsWith('08') || TRANSIENT_SQLSTATES.has(code))) ||
    (!sqlstate && code !== undefined && TRANSIENT_SOCKET_CODES.has(code)) ||
    TRANSIENT_MESSAGES.test(message);
  const text = redact(`${context}: ${message}${suffix(code, sqlstate)}`);
  return transient ? new TransientDatabaseError(text, code, { cause: err }) : new DatabaseError(text, code, { cause: err });
}

function errorParts(err: unknown): { code: string | undefined; message: string; sqlstate: boolean } {
  if (!(err instanceof Error)) return { code: undefined, message: String(err), sqlstate: false };
  const raw = (err as { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : undefined;
  // A server error carries a severity; a Node socket error (also e.g. 'EPIPE') does not.
  const sqlstate = code !== undefined && (err instanceof pg.DatabaseError || 'severity' in err) && /^[0-9A-Z]{5}$/.test(code);
  // Node 20 reports a refused `localhost` (IPv4 and IPv6) as an AggregateError with an empty message.
  const inner = err instanceof AggregateError ? err.errors.find((e): e is Error => e instanceof Error)?.message : undefined;
  return { code, message: err.message || inner || code || err.name, sqlstate };
}

function suffix(code: string | undefined, sqlstate: boolean): string {
  if (code === undefined) return '';
  return sqlstate ? ` (SQLSTATE ${code})` : ` (${code})`;
}

function isTlsProblem(code: string | undefined, message: string): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code ?? '') || /SSL|TLS|certificate/i.test(message);
}

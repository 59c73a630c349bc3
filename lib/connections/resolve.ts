/**
 * Turns a connection as the pipeline file names it (`secretsmanager` | `env` | `url`) into
 * `ConnectionSettings`. Fields found in the source win; `connection_params` fill the gaps.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConnectionError } from '../errors.ts';
import { redact, redactUrl, registerSecret } from '../redact.ts';
import { readSecret } from './secrets.ts';
import type { ConnectionParams, ConnectionRef, ConnectionSettings, ConnectionType, ResolvedFields, SslMode } from './types.ts';
import { parsePort, parseSeconds, parseSslmode } from './values.ts';

/** What resolution reads from; tests pass their own. */
export interface ResolveDeps {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default a client shared by the process, created on first use (in the ARN's region for an ARN) */
  secrets?: SecretsManagerClient;
}

/** Defaults applied after merging. */
export const CONNECTION_DEFAULTS = {
  port: 5432,
  applicationName: 'pgferry',
  connectTimeoutSeconds: 10,
} as const;

const DEFAULT_SSLMODE: Record<ConnectionType, SslMode> = {
  secretsmanager: 'verify-full',
  env: 'disable',
  url: 'disable',
};

/** Resolves a connection to the settings to open it with. Throws `ConnectionError` naming what is missing and where it looked. */
export async function resolveConnection(ref: ConnectionRef, deps: ResolveDeps = {}): Promise<ConnectionSettings> {
  const label = connectionLabel(ref);
  let found: ResolvedFields;
  let lookedAt: (fields: string[]) => string;
  switch (ref.connection_type) {
    case 'secretsmanager':
      found = await readSecret(ref.connection_id, deps.secrets);
      lookedAt = () => `secret ${JSON.stringify(ref.connection_id)}`;
      break;
    case 'env': {
      const id = envId(ref.connection_id);
      found = fromEnv(id, deps.env ?? process.env, label);
      lookedAt = (fields) => [`PGFERRY_CONN_${id}_URL`, ...fields.map((f) => `PGFERRY_CONN_${id}_${f.toUpperCase()}`)].join(', ');
      break;
    }
    case 'url':
      found = parseUrl(ref.connection_id, label);
      lookedAt = () => 'the URL';
      break;
    default:
      throw new ConnectionError(`${label}: unknown connection_type ${JSON.stringify(ref.connection_type)}; use secretsmanager, env or url`, label);
  }
  registerSecret(found.password);

  const params = fromParams(ref.connection_params ?? {}, label);
  const merged: ResolvedFields = { ...dropUndefined(params), ...dropUndefined(found) };
  const missing = (['host', 'database', 'user'] as const).filter((field) => merged[field] === undefined || merged[field] === '');
  if (missing.length > 0) {
    const fields = missing.map((field) => (field === 'user' ? 'username' : field));
    throw new ConnectionError(
      redact(`${label}: missing ${fields.join(', ')}: looked in ${lookedAt(fields)} and ${fields.map((f) => `connection_params.${f}`).join(', ')}`),
      label,
    );
  }
  return {
    host: merged.host as string,
    port: merged.port ?? CONNECTION_DEFAULTS.port,
    database: merged.database as string,
    user: merged.user as string,
    ...(merged.password !== undefined ? { password: merged.password } : {}),
    sslmode: merged.sslmode ?? DEFAULT_SSLMODE[ref.connection_type],
    ...(merged.sslrootcert !== undefined ? { sslrootcert: merged.sslrootcert } : {}),
    applicationName: merged.applicationName ?? CONNECTION_DEFAULTS.applicationName,
    connectTimeoutSeconds: merged.connectTimeoutSeconds ?? CONNECTION_DEFAULTS.connectTimeoutSeconds,
    ...(ref.connection_params?.statement_timeout !== undefined ? { statementTimeoutMs: ref.connection_params.statement_timeout } : {}),
    source: ref.connection_type,
  };
}

/**
 * `connection "<id>"`, with the password of a URL id masked: everything from `user:` to the LAST `@`, and a
 * `password=` parameter to the next `&`. Wider than redactUrl's patterns (which must not swallow the text
 * around a URL): a label is the id alone, and a password left unencoded may hold spaces, `@` or a bad
 * %-sequence (then it is never decoded, so never registered for `redact` either).
 */
export function connectionLabel(ref: Pick<ConnectionRef, 'connection_id'>): string {
  const masked = ref.connection_id.replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/[^:@/?#\s]*:)[\s\S]*@/i, '$1***@').replace(/([?&]password=)[^&]*/gi, '$1***');
  return `connection ${JSON.stringify(redactUrl(masked))}`;
}

/** The `<ID>` of the `PGFERRY_CONN_<ID>_*` variables: upper-cased, every non-alphanumeric as `_`. */
export function envId(connectionId: string): string {
  return connectionId.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

// ---- env ----

function fromEnv(id: string, env: NodeJS.ProcessEnv, label: string): ResolvedFields {
  const read = (suffix: string): string | undefined => {
    const value = env[`PGFERRY_CONN_${id}_${suffix}`];
    return value === undefined || value === '' ? undefined : value;
  };
  const port = read('PORT');
  const sslmode = read('SSLMODE');
  const fields: ResolvedFields = {
    host: read('HOST'),
    port: port === undefined ? undefined : parsePort(port, `PGFERRY_CONN_${id}_PORT`, label),
    database: read('DATABASE') ?? read('DBNAME'),
    user: read('USERNAME') ?? read('USER'),
    password: read('PASSWORD'),
    sslmode: sslmode === undefined ? undefined : parseSslmode(sslmode, `PGFERRY_CONN_${id}_SSLMODE`, label),
  };
  const url = read('URL');
  // The URL wins; single variables fill what it leaves out (e.g. a password kept apart).
  return url === undefined ? fields : { ...dropUndefined(fields), ...dropUndefined(parseUrl(url, `${label} (PGFERRY_CONN_${id}_URL)`)) };
}

// ---- url ----

const NO_HOST = 'pgferry-no-host.invalid';

/** Parses a `postgres://` / `postgresql://` URL; user, password and database are percent-decoded. */
export function parseUrl(url: string, label: string): ResolvedFields {
  const fail = (why: string): never => {
    throw new ConnectionError(`${label}: ${why} (expected postgres://user:password@host:port/database?sslmode=...)`, label);
  };
  if (!/^postgres(ql)?:\/\//i.test(url)) fail('not a postgres:// or postgresql:// URL');
  let parsed: URL;
  try {
    // WHATWG URLs refuse `user@/db` (no host, as in a unix-socket URL); give them a placeholder host.
    parsed = new URL(url.replace(/^(postgres(?:ql)?:\/\/[^/?#]*@)(?=[/?#]|$)/i, `$1${NO_HOST}`));
  } catch {
    return fail('malformed URL');
  }
  registerSecret(decode(parsed.password, 'password', fail));
  const query = parsed.searchParams;
  const queryValue = (name: string): string | undefined => query.get(name) ?? undefined;
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const connectTimeout = queryValue('connect_timeout');
  const port = queryValue('port') ?? (parsed.port === '' ? undefined : parsed.port);
  const sslmode = queryValue('sslmode');
  const result: ResolvedFields = {
    host: queryValue('host') ?? (hostname === '' || hostname === NO_HOST ? undefined : hostname),
    port: port === undefined ? undefined : parsePort(port, 'port', label),
    database: queryValue('dbname') ?? emptyToUndefined(decode(parsed.pathname.replace(/^\//, ''), 'database', fail)),
    user: queryValue('user') ?? emptyToUndefined(decode(parsed.username, 'user', fail)),
    password: queryValue('password') ?? emptyToUndefined(decode(parsed.password, 'password', fail)),
    sslmode: sslmode === undefined ? undefined : parseSslmode(sslmode, 'sslmode', label),
    sslrootcert: queryValue('sslrootcert'),
    applicationName: queryValue('application_name'),
    connectTimeoutSeconds: connectTimeout === undefined ? undefined : parseSeconds(connectTimeout, 'connect_timeout', label),
  };
  registerSecret(result.password);
  return result;
}

function decode(text: string, what: string, fail: (why: string) => never): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fail(`bad percent-encoding in the ${what}`);
  }
}

// ---- connection_params ----

function fromParams(params: ConnectionParams, label: string): ResolvedFields {
  return {
    host: params.host,
    port: params.port === undefined ? undefined : parsePort(params.port, 'connection_params.port', label),
    database: params.database,
    user: params.username,
    sslmode: params.sslmode === undefined ? undefined : parseSslmode(params.sslmode, 'connection_params.sslmode', label),
    sslrootcert: params.sslrootcert,
    applicationName: params.application_name,
    connectTimeoutSeconds: params.connect_timeout === undefined ? undefined : parseSeconds(params.connect_timeout, 'connection_params.connect_timeout', label),
  };
}

function emptyToUndefined(value: string): string | undefined {
  return value === '' ? undefined : value;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

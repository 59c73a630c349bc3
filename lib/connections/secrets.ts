/** Secrets Manager: reads the RDS-format secret of a connection, cached for the life of the process (Lambda container). */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConnectionError, TransientDatabaseError } from '../errors.ts';
import { registerSecret } from '../redact.ts';
import type { ResolvedFields } from './types.ts';
import { parsePort } from './values.ts';

/** Secrets read by this process (Lambda container), by secret id. A promise, so concurrent reads share one call. */
const secretCache = new Map<string, Promise<ResolvedFields>>();
const sharedClients = new Map<string, SecretsManagerClient>();

/** Forgets a cached secret, so the next resolution reads it again (after a rotation). */
export function invalidateSecret(secretId: string): void {
  secretCache.delete(secretId);
}

/** Forgets every cached secret. For tests. */
export function clearSecretCache(): void {
  secretCache.clear();
}

/** The fields of a secret, from the cache or Secrets Manager. */
export function readSecret(secretId: string, client: SecretsManagerClient | undefined): Promise<ResolvedFields> {
  let pending = secretCache.get(secretId);
  if (pending === undefined) {
    pending = (async () => fetchSecret(secretId, client ?? (await sharedClient(secretId))))();
    secretCache.set(secretId, pending);
    // A failed read is not cached: the next resolution tries again.
    pending.catch(() => {
      if (secretCache.get(secretId) === pending) secretCache.delete(secretId);
    });
  }
  return pending;
}

/** The AWS SDK module, loaded on first use: connections that are not in Secrets Manager never pay for it. */
const sdk = () => import('@aws-sdk/client-secrets-manager');

async function sharedClient(secretId: string): Promise<SecretsManagerClient> {
  // An ARN names its region; a plain name uses the SDK's (AWS_REGION on Lambda).
  const region = /^arn:[^:]+:secretsmanager:([^:]+):/.exec(secretId)?.[1] ?? '';
  let client = sharedClients.get(region);
  if (client === undefined) {
    const { SecretsManagerClient: Client } = await sdk();
    client = new Client(region === '' ? {} : { region });
    sharedClients.set(region, client);
  }
  return client;
}

/** AWS errors that pass when tried again; the SDK has already retried them a few times. */
const TRANSIENT_AWS_ERRORS = new Set(['ThrottlingException', 'InternalServiceError', 'RequestTimeout', 'TimeoutError', 'ECONNRESET', 'ETIMEDOUT']);

async function fetchSecret(secretId: string, client: SecretsManagerClient): Promise<ResolvedFields> {
  const label = `secret ${JSON.stringify(secretId)}`;
  let text: string | undefined;
  try {
    const { GetSecretValueCommand } = await sdk();
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    text = out.SecretString ?? (out.SecretBinary !== undefined ? Buffer.from(out.SecretBinary).toString('utf8') : undefined);
  } catch (err) {
    const name = awsErrorName(err);
    const message = `cannot read ${label} from Secrets Manager: ${name}`;
    if (TRANSIENT_AWS_ERRORS.has(name) || (err as { $retryable?: unknown }).$retryable !== undefined) {
      throw new TransientDatabaseError(message, name, { cause: err });
    }
    throw new ConnectionError(message, label, name, { cause: err });
  }
  if (text === undefined) throw new ConnectionError(`${label} has no SecretString`, label);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Neither the secret text nor the parser's message (which quotes it) goes into the error.
    throw new ConnectionError(`${label} is not valid JSON; expected the RDS format {engine, host, port, username, password, dbname}`, label);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConnectionError(`${label} is not a JSON object; expected the RDS format {engine, host, port, username, password, dbname}`, label);
  }
  const secret = json as Record<string, unknown>;
  registerSecret(typeof secret.password === 'string' ? secret.password : undefined);
  const field = (name: string): string | undefined => {
    const value = secret[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw new ConnectionError(`${label}: field ${name} must be a string`, label);
    return value;
  };
  return {
    host: field('host'),
    port: secret.port === undefined || secret.port === null ? undefined : parsePort(secret.port, `${label}: port`, label),
    database: field('database') ?? field('dbname'),
    user: field('username') ?? field('user'),
    password: field('password'),
  };
}

function awsErrorName(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const { name, code } = err as { name?: unknown; code?: unknown };
    if (typeof name === 'string' && name !== 'Error') return name;
    if (typeof code === 'string') return code;
  }
  return 'UnknownError';
}

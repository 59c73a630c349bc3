/** Types of a connection: how it is named in a pipeline file and what it resolves to. */

/** How `connection_id` is resolved. */
export type ConnectionType = 'secretsmanager' | 'env' | 'url';

/** TLS mode, as in libpq (minus `allow` / `prefer`, which would silently fall back to plain text). */
export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

/** Every accepted `sslmode`, for validation and messages. */
export const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];

/** Fields a pipeline file may give next to a connection; they fill what the resolved source leaves out. */
export interface ConnectionParams {
  host?: string;
  /** @default 5432 */
  port?: number;
  database?: string;
  username?: string;
  /** @default 'verify-full' for secretsmanager, 'disable' otherwise */
  sslmode?: SslMode;
  /** Path of a PEM file of certificate authorities to verify the server against. */
  sslrootcert?: string;
  /** @default 'pgferry' */
  application_name?: string;
  /** Seconds to wait for the connection. @default 10 */
  connect_timeout?: number;
  /** Milliseconds a statement may run; unset keeps the server's setting. */
  statement_timeout?: number;
}

/** A connection as the pipeline file names it. */
export interface ConnectionRef {
  connection_id: string;
  connection_type: ConnectionType;
  connection_params: ConnectionParams;
}

/** Everything needed to open a session, with every default applied. */
export interface ConnectionSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Registered with `registerSecret`, so `redact` hides it wherever it turns up. */
  password?: string;
  sslmode: SslMode;
  sslrootcert?: string;
  applicationName: string;
  connectTimeoutSeconds: number;
  statementTimeoutMs?: number;
  /** Where the settings came from; a `secretsmanager` connection is re-read once on an authentication failure. */
  source: ConnectionType;
}

/** Settings as read from one source (secret, environment, URL, connection_params), before merging and defaults. Internal. */
export interface ResolvedFields {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  sslmode?: SslMode;
  sslrootcert?: string;
  applicationName?: string;
  connectTimeoutSeconds?: number;
}

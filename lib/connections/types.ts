/** Types of a connection: how it is named in a pipeline file and what it resolves to. */

// The pipeline file's connection types are the contract: one definition, in lib/config.
import type { ConnectionConfig, ConnectionParams, ConnectionType, SslMode } from '../config/types.ts';

export { SSL_MODES } from '../config/types.ts';
export type { ConnectionParams, ConnectionType, SslMode };

/** A connection as the pipeline file names it. */
export type ConnectionRef = ConnectionConfig;

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

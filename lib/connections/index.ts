/** Connections: resolving (secretsmanager | env | url), connecting with TLS and session pins, redaction. */
export type { ConnectionParams, ConnectionRef, ConnectionSettings, ConnectionType, SslMode } from './types.ts';
export { SSL_MODES } from './types.ts';
export { CONNECTION_DEFAULTS, connectionLabel, envId, resolveConnection, type ResolveDeps } from './resolve.ts';
export { clearSecretCache, invalidateSecret } from './secrets.ts';
export { CA_BUNDLE_ENV, tlsOptions } from './tls.ts';
export {
  SESSION_SETTINGS,
  classifyConnectError,
  classifyDatabaseError,
  connect,
  describeConnection,
  isAuthenticationFailure,
  openConnection,
  sessionSql,
  type ConnectOptions,
} from './connect.ts';
export { redact, redactUrl, registerSecret } from '../redact.ts';

/** TLS options for a session, from `sslmode` and the certificate authorities to trust. */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { ConnectionError } from '../errors.ts';
import type { ConnectionSettings } from './types.ts';

/** Environment variable naming a PEM bundle of CAs (e.g. the RDS global bundle shipped in the Lambda asset). */
export const CA_BUNDLE_ENV = 'PGFERRY_CA_BUNDLE';

/**
 * `ssl` option of `pg.Client` for these settings.
 *
 * - `disable`: no TLS.
 * - `require`, `verify-ca`: TLS, the server certificate verified against the CAs, no host name check.
 *   NB `require` is stricter than libpq's, which accepts any certificate: pgferry never accepts an
 *   unverified certificate (`rejectUnauthorized: false` appears nowhere).
 * - `verify-full`: as `verify-ca`, and the certificate must name `host`.
 *
 * CAs: the `sslrootcert` file, else the file named by `PGFERRY_CA_BUNDLE`, else Node's trust store
 * (on Lambda it includes `NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem`, the Amazon and RDS CAs).
 */
export function tlsOptions(
  settings: Pick<ConnectionSettings, 'sslmode' | 'host'> & { sslrootcert?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): false | tls.ConnectionOptions {
  if (settings.sslmode === 'disable') return false;
  const caFile = settings.sslrootcert ?? emptyToUndefined(env[CA_BUNDLE_ENV]);
  const options: tls.ConnectionOptions = { rejectUnauthorized: true };
  if (caFile !== undefined) options.ca = readCa(caFile, settings.sslrootcert !== undefined ? 'sslrootcert' : CA_BUNDLE_ENV, settings.host);
  if (settings.sslmode === 'verify-full') {
    // Checked against the configured host itself, so an IP address or an SNI-less connection is checked too.
    options.checkServerIdentity = (_servername, cert) => tls.checkServerIdentity(settings.host, cert);
  } else {
    options.checkServerIdentity = () => undefined;
  }
  return options;
}

function readCa(file: string, from: string, host: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConnectionError(`cannot read the CA file ${file} (from ${from}) for ${host}: ${code ?? String(err)}`, host, code, { cause: err });
  }
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

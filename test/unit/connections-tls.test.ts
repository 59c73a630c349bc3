import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../../lib/errors.ts';
import { tlsOptions } from '../../lib/connections/index.ts';
import { tempDir } from '../helpers/temp.ts';

const dir = tempDir('pgferry-tls-');
const rootCert = join(dir, 'root.pem');
const bundle = join(dir, 'bundle.pem');
writeFileSync(rootCert, 'ROOT CERT PEM');
writeFileSync(bundle, 'BUNDLE PEM');

const cert = { subject: { CN: 'db.example.com' }, subjectaltname: 'DNS:db.example.com' } as unknown as PeerCertificate;

describe('Function: tlsOptions', () => {
  it('turns TLS off for disable', () => {
    expect(tlsOptions({ sslmode: 'disable', host: 'h' }, {})).toBe(false);
  });

  it.each(['require', 'verify-ca'] as const)('verifies the certificate but not the host name for %s', (sslmode) => {
    const options = tlsOptions({ sslmode, host: 'other.example.com' }, {});
    expect(options).not.toBe(false);
    if (options === false) return;
    expect(options.rejectUnauthorized).toBe(true);
    expect(options.ca).toBeUndefined();
    expect(options.checkServerIdentity?.('other.example.com', cert)).toBeUndefined();
  });

  it('verifies the certificate and the host name for verify-full', () => {
    const good = tlsOptions({ sslmode: 'verify-full', host: 'db.example.com' }, {});
    const bad = tlsOptions({ sslmode: 'verify-full', host: 'evil.example.com' }, {});
    if (good === false || bad === false) throw new Error('expected TLS options');
    expect(good.rejectUnauthorized).toBe(true);
    expect(good.checkServerIdentity?.('db.example.com', cert)).toBeUndefined();
    expect(bad.checkServerIdentity?.('evil.example.com', cert)).toBeInstanceOf(Error);
  });

  it('reads the CA from sslrootcert before PGFERRY_CA_BUNDLE', () => {
    const fromRoot = tlsOptions({ sslmode: 'verify-full', host: 'h', sslrootcert: rootCert }, { PGFERRY_CA_BUNDLE: bundle });
    const fromBundle = tlsOptions({ sslmode: 'verify-full', host: 'h' }, { PGFERRY_CA_BUNDLE: bundle });
    expect(fromRoot !== false && fromRoot.ca).toBe('ROOT CERT PEM');
    expect(fromBundle !== false && fromBundle.ca).toBe('BUNDLE PEM');
  });

  it('fails with a ConnectionError naming a CA file it cannot read', () => {
    expect(() => tlsOptions({ sslmode: 'verify-ca', host: 'h', sslrootcert: join(dir, 'nope.pem') }, {})).toThrow(ConnectionError);
    expect(() => tlsOptions({ sslmode: 'verify-ca', host: 'h', sslrootcert: join(dir, 'nope.pem') }, {})).toThrow(/nope\.pem.*ENOENT/);
  });

  it('never turns certificate verification off', () => {
    for (const sslmode of ['require', 'verify-ca', 'verify-full'] as const) {
      const options = tlsOptions({ sslmode, host: 'h' }, {});
      expect(options !== false && options.rejectUnauthorized).toBe(true);
    }
  });
});

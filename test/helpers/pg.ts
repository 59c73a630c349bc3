import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { startEmbeddedPostgres } from '../../lib/local/embedded.ts';
import { startContainerPostgres } from './pg-container.ts';

/**
 * A PostgreSQL server for one test file: `PGFERRY_TEST_PG_URL`'s server, else a Docker container of
 * `PGFERRY_TEST_PG_IMAGE` (falling back when there is no Docker engine), else the embedded one.
 */
export interface TestPostgres {
  /** Creates a database with a unique name and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** A connected client on the given database URL; closed by stop(). */
  client(url: string): Promise<pg.Client>;
  /** Drops what was created (databases on an external server) and stops an embedded server or a container. */
  stop(): Promise<void>;
}

/** Whether the fallback line was printed: once per test file is enough, not once per server. */
let fellBack = false;

/** Where the server runs: the URL of a superuser on its `postgres` database, and how to stop it if it is ours. */
async function startServer(): Promise<{ adminUrl: string; stop?: () => Promise<void> }> {
  const external = process.env.PGFERRY_TEST_PG_URL;
  if (external) return { adminUrl: external };
  const image = process.env.PGFERRY_TEST_PG_IMAGE;
  if (image) {
    const container = await startContainerPostgres(image);
    if (!('unavailable' in container)) return container;
    if (!fellBack) console.warn(`PGFERRY_TEST_PG_IMAGE=${image}: ${container.unavailable}; using the embedded PostgreSQL instead`);
    fellBack = true;
  }
  const embedded = await startEmbeddedPostgres();
  return { adminUrl: embedded.url('postgres'), stop: () => embedded.stop() };
}

/** Starts (or attaches to) a PostgreSQL server for a test file. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const external = process.env.PGFERRY_TEST_PG_URL;
  const server = await startServer();
  const { adminUrl } = server;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // One statement at a time on the admin client, however the test calls in: pg 9 rejects a query sent while one runs.
  let last: Promise<unknown> = Promise.resolve();
  const adminQuery = (sql: string): Promise<void> => {
    const next = last.then(() => admin.query(sql)).then(() => undefined);
    last = next.catch(() => undefined);
    return next;
  };
  const created: string[] = [];
  const clients: pg.Client[] = [];
  return {
    async createDatabase(prefix = 'db') {
      const name = `${prefix}_${randomBytes(4).toString('hex')}`;
      await adminQuery(`CREATE DATABASE "${name}"`);
      created.push(name);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async client(url) {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => undefined);
      await client.connect();
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      if (external) {
        for (const name of created) {
          await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
        }
      }
      await last;
      await admin.end().catch(() => undefined);
      await server.stop?.();
    },
  };
}

/** A server with a fresh source and target database and a client on each: how most integration tests start. */
export interface SourceAndTarget {
  readonly server: TestPostgres;
  readonly sourceUrl: string;
  readonly targetUrl: string;
  readonly source: pg.Client;
  readonly target: pg.Client;
}

/** How {@link startSourceAndTarget} names its databases. */
export interface SourceAndTargetOptions {
  /**
   * Prefix of the source database's name, for a test that reads the name back.
   * @default 'src'
   */
  readonly sourcePrefix?: string;
  /**
   * Prefix of the target database's name.
   * @default 'dst'
   */
  readonly targetPrefix?: string;
}

/** Starts a server (see {@link startTestPostgres}) with a `src_*` and a `dst_*` database, connected. */
export async function startSourceAndTarget(options: SourceAndTargetOptions = {}): Promise<SourceAndTarget> {
  const server = await startTestPostgres();
  const sourceUrl = await server.createDatabase(options.sourcePrefix ?? 'src');
  const targetUrl = await server.createDatabase(options.targetPrefix ?? 'dst');
  return { server, sourceUrl, targetUrl, source: await server.client(sourceUrl), target: await server.client(targetUrl) };
}

/**
 * The usual set-up of an integration test file: {@link startSourceAndTarget} before its tests (then `sourceDdl`
 * on the source), the server stopped after them. The fields are set once beforeAll has run; more databases
 * come from `server.createDatabase`.
 */
export function useSourceAndTarget(sourceDdl?: string, options: SourceAndTargetOptions = {}): SourceAndTarget {
  const db = {} as { -readonly [K in keyof SourceAndTarget]: SourceAndTarget[K] };
  beforeAll(async () => {
    Object.assign(db, await startSourceAndTarget(options));
    if (sourceDdl) await db.source.query(sourceDdl);
  });
  afterAll(async () => {
    await db.server?.stop();
  });
  return db;
}

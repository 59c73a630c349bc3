/** The module is a devDependency that a shared or partial node_modules may lack; a variable keeps tsc from resolving it. */
const MODULE = '@testcontainers/postgresql';

/** The part of @testcontainers/postgresql this file uses. */
interface PostgreSqlModule {
  PostgreSqlContainer: new (image: string) => {
    withUsername(name: string): { start(): Promise<{ getConnectionUri(): string; stop(): Promise<unknown> }> };
  };
}

/** A started container: the URL of its `postgres` database as a superuser, and how to remove it. */
export interface ContainerPostgres {
  readonly adminUrl: string;
  stop(): Promise<void>;
}

/** Why the container could not start, in one line; the caller falls back to the embedded server. */
export interface ContainerUnavailable {
  readonly unavailable: string;
}

let unavailable: string | undefined;

/**
 * Starts a PostgreSQL container of `image` through Testcontainers, or says why it cannot: the package does not
 * load, or no Docker engine is reachable. Any other failure (say, an image that does not exist) throws, since
 * the run asked for that image. A reason is remembered, so a file's later servers do not probe again.
 */
export async function startContainerPostgres(image: string): Promise<ContainerPostgres | ContainerUnavailable> {
  if (unavailable) return { unavailable };
  let mod: PostgreSqlModule;
  try {
    mod = (await import(MODULE)) as PostgreSqlModule;
  } catch (err) {
    unavailable = `${MODULE} does not load (${firstLine(err)}); \`npm ci\` installs it`;
    return { unavailable };
  }
  try {
    const started = await new mod.PostgreSqlContainer(image).withUsername('postgres').start();
    const url = new URL(started.getConnectionUri());
    url.pathname = '/postgres';
    return { adminUrl: url.toString(), stop: async () => void (await started.stop()) };
  } catch (err) {
    if (!/container runtime strategy|docker\.sock|ECONNREFUSED/i.test(firstLine(err))) throw err;
    unavailable = `no Docker engine reachable (${firstLine(err)})`;
    return { unavailable };
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

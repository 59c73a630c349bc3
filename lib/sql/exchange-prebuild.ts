/**
 * Index builds of an exchange run ahead of the apply transaction (see exchangeStatements' `prebuildable`):
 * built under a name derived from their definition, then adopted by a rename inside the transaction.
 */
import { createHash } from 'node:crypto';
import { InternalError } from '../errors.ts';
import { MAX_IDENTIFIER_BYTES as MAX_IDENT_BYTES } from '../config/types.ts';
import type { ExchangeStatements, IndexBuild } from './exchange.ts';
import { ident, qualified, type TableName } from './quote.ts';

/** `build` under another name (an identifier, or `IF NOT EXISTS` and one). */
function renamedBuild(build: IndexBuild, name: string): string {
  const head = `INDEX ${ident(build.name)} ON `;
  const at = build.sql.indexOf(head);
  if (at < 0 || at > 'CREATE UNIQUE '.length) throw new InternalError(`exchange: unexpected index build ${build.sql}`);
  return `${build.sql.slice(0, at)}INDEX ${name} ON ${build.sql.slice(at + head.length)}`;
}

/**
 * The name an index is built under ahead of the apply transaction: the exchange's prefix and a digest of the
 * build without its name, so a definition that changed in between gets another name and is not adopted.
 */
export function prebuiltIndexName(prefix: string, build: IndexBuild): string {
  const name = `${prefix}_p${createHash('sha256').update(renamedBuild(build, '')).digest('hex').slice(0, 16)}`;
  if (Buffer.byteLength(name) > MAX_IDENT_BYTES)
    throw new InternalError(`exchange: temporary name ${name} is longer than ${MAX_IDENT_BYTES} bytes; use a shorter prefix`);
  return name;
}

/** The build of an index ahead of the apply transaction, under its prebuilt name; a retry finds it done. */
export function prebuildSql(prefix: string, build: IndexBuild): string {
  return renamedBuild(build, `IF NOT EXISTS ${ident(prebuiltIndexName(prefix, build))}`);
}

/**
 * `statements.prepare` with every build whose index was built ahead (`prebuilt`: names of the staged table's
 * indexes) replaced by a rename of it, after dropping the prebuilt indexes nothing adopts (their definition
 * changed since): the same indexes, without building them again inside the transaction.
 */
export function adoptPrebuilt(statements: ExchangeStatements, prefix: string, staging: TableName, prebuilt: readonly string[]): string[] {
  const left = new Set(prebuilt);
  const renames = new Map<string, string>();
  for (const build of statements.prebuildable) {
    const name = prebuiltIndexName(prefix, build);
    if (!left.delete(name)) continue;
    renames.set(build.sql, `ALTER INDEX ${qualified({ schema: staging.schema, name })} RENAME TO ${ident(build.name)}`);
  }
  const drops = [...left].map((name) => `DROP INDEX ${qualified({ schema: staging.schema, name })}`);
  return [...drops, ...statements.prepare.map((sql) => renames.get(sql) ?? sql)];
}

/**
 * The tables of a file that lists them, as a run sees them: what its entries resolve to on the source now (one
 * catalog query), each table's config, and the name of each table's run.
 */
import { createHash } from 'node:crypto';
import { formatTableName, parseTableName, tableConfig, type PipelineConfig, type TableRef, type TablesFile } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { ConfigError, DatabaseError, InternalError, type PgferryError } from '../errors.ts';
import { qualified } from '../sql/quote.ts';
import { listSourceTables, resolveTables } from '../source/tables.ts';

/** A resolved table of a file, ready to run, or the reason it cannot. */
export interface PlannedTable {
  readonly table: string;
  readonly ref: TableRef;
  /** The source table's primary key, as the catalog gave it (null: none, or the table does not exist). */
  readonly primaryKey: readonly string[] | null;
  readonly target: string;
  readonly entry: number;
  readonly config?: PipelineConfig;
  /** Why it cannot run: a ConfigError (no key for its strategy, a target another table loads), or a DatabaseError (no such source table). */
  readonly error?: PgferryError;
}

/** What a file's entries resolve to on the source now. */
export interface FileResolution {
  readonly tables: readonly PlannedTable[];
  readonly warnings: readonly string[];
}

/** Resolves a file's entries against the source catalog (one query), keeping `only` when given. */
export async function resolveFile(source: Db, file: TablesFile, only?: readonly string[]): Promise<FileResolution> {
  const rows = await listSourceTables(
    source,
    file.entries.map((e) => e.match),
  );
  const resolved = resolveTables(file.entries, rows);
  const tables = resolved.tables.map((t): PlannedTable => {
    const entry = file.entries.find((e) => e.index === t.entry);
    const table = formatTableName(t.ref);
    if (!entry) throw new InternalError(`a table resolved to entry ${t.entry}, which the file does not have`);
    const target = formatTableName({ schema: entry.target.schema ?? t.ref.schema, name: entry.target.name ?? t.ref.name });
    const primaryKey = t.source?.primaryKey ? [...t.source.primaryKey] : null;
    if (!t.source) {
      // An entry naming a table the source does not have: that table fails, the others run.
      const error = new DatabaseError(`source table ${qualified(t.ref)} does not exist; create it, or remove it from tables[${t.entry}]`, '42P01');
      return { table, ref: t.ref, primaryKey, target, entry: t.entry, error };
    }
    try {
      return { table, ref: t.ref, primaryKey, target, entry: t.entry, config: tableConfig(file, entry, t.ref, primaryKey) };
    } catch (error) {
      if (error instanceof ConfigError) return { table, ref: t.ref, primaryKey, target, entry: t.entry, error };
      throw error;
    }
  });
  refuseSharedTargets(tables, file.file);
  if (only === undefined || only.length === 0) return { tables, warnings: resolved.warnings };
  // `"sales".orders` and `sales.orders` name one table: compare the names as the resolution writes them.
  const wanted = new Set(
    only.map((name) => {
      const ref = parseTableName(name);
      if ('problem' in ref) throw new ConfigError([{ file: file.file, path: '--table', message: `${JSON.stringify(name)}: ${ref.problem}` }]);
      return formatTableName(ref);
    }),
  );
  const names = new Set(tables.map((t) => t.table));
  const unknown = [...wanted].filter((name) => !names.has(name));
  if (unknown.length > 0) {
    const known = tables.map((t) => t.table);
    throw new ConfigError([
      {
        file: file.file,
        path: '--table',
        message: `${unknown.map((n) => JSON.stringify(n)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a table of this file now; it resolves to ${known.length === 0 ? 'no table' : known.slice(0, 20).join(', ') + (known.length > 20 ? ` and ${known.length - 20} more` : '')}`,
      },
    ]);
  }
  return { tables: tables.filter((t) => wanted.has(t.table)), warnings: resolved.warnings };
}

/** Two source tables into one target would overwrite each other: the later one fails. */
function refuseSharedTargets(tables: PlannedTable[], path: string): void {
  const first = new Map<string, string>();
  tables.forEach((t, n) => {
    if (t.error) return;
    const other = first.get(t.target);
    if (other === undefined) {
      first.set(t.target, t.table);
      return;
    }
    tables[n] = {
      ...t,
      error: new ConfigError([
        {
          file: path,
          path: `tables[${t.entry}].target`,
          message: `${t.table} would load ${t.target}, which ${other} loads already; give one of them another target`,
        },
      ]),
    };
  });
}

/**
 * The execution name of a table's run within a file's run (`<file run>-<table>-<hash>`): at most 80 characters of
 * `[A-Za-z0-9_-]` as Step Functions allows, distinct per table, with the table readable in the console.
 */
export function tableRunName(runId: string, key: string): string {
  const hash = createHash('sha256').update(`${runId}\u0000${key}`).digest('hex').slice(0, 8);
  const table = key
    .slice(key.indexOf('/') + 1)
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .slice(0, 28);
  return `${runId.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 42)}-${table}-${hash}`;
}

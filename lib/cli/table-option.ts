/** `--table NAME` (repeatable) and `--all`: the tables of a file that lists tables a command is restricted to. */
import { parseTableName, type TableRef } from '../config/index.ts';
import { ConfigError, type PgferryError } from '../errors.ts';
import { redact } from '../connections/index.ts';

/** Refuses `--table` (and `--all`) for a single-table file, as `run` does. */
export function refuseTableOption(file: string, tables: readonly string[] | undefined, all?: boolean): void {
  if ((tables && tables.length > 0) || all) {
    throw new ConfigError([{ file, path: tables && tables.length > 0 ? '--table' : '--all', message: 'only for a file that lists tables' }]);
  }
}

/** The `--table` names parsed; ConfigError naming each one that is not a table name. */
export function tableRefs(file: string, tables: readonly string[]): TableRef[] {
  const refs: TableRef[] = [];
  const problems: { file: string; path: string; message: string }[] = [];
  for (const name of tables) {
    const ref = parseTableName(name);
    if ('problem' in ref) problems.push({ file, path: '--table', message: `${JSON.stringify(name)}: ${ref.problem}` });
    else if (!refs.some((r) => r.schema === ref.schema && r.name === ref.name)) refs.push(ref);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return refs;
}

/** Why a table of a file cannot run as configured, without the file's name (the command's output names the file). */
export function tableProblem(error: PgferryError | undefined): string {
  if (!error) return 'the table has no configuration';
  if (!(error instanceof ConfigError)) return redact(`${error.name}: ${error.message}`);
  return redact(error.problems.map((p) => [p.path, p.message].filter((part) => part !== '').join(': ')).join('; '));
}

/**
 * `pgferry plan` of a file that lists tables. Without `--table`: what the entries resolve to on the source now,
 * one line per table, from one catalog query however many tables there are (nothing is read per table); then
 * the warnings and the tables whose state no entry resolves to. With `--table`: the full plan of each named table.
 */
import { tableKey, type TablesFile } from '../../config/index.ts';
import { close, type Db } from '../../db/index.ts';
import { ConfigError } from '../../errors.ts';
import { resolveFile, type PlannedTable } from '../../workflow/tables.ts';
import { listTableKeys } from '../../state/store.ts';
import { strategyLabel } from '../../workflow/request.ts';
import { describeError, ExitCode, type Io } from '../output.ts';
import { tableProblem } from '../table-option.ts';
import { printPlan, withPlanConnections, type Connect } from './single-plan.ts';

/** Prints the plan of a file of tables; exit 2 when a table cannot run as configured (or `--table` names no table of the file). */
export async function planTablesCommand(file: TablesFile, options: { readonly tables?: readonly string[] }, io: Io, connect: Connect): Promise<number> {
  // resolveFile reads any spelling of a name (`"sales".orders` is `sales.orders`) and refuses one that is not a name.
  const only = options.tables;
  if (only && only.length > 0) return planNamedTables(file, only, io, connect);
  let source: Db | undefined;
  let state: Db | undefined;
  try {
    source = await connect(file.source, { readOnly: true });
    const resolution = await resolveFile(source, file);
    state = await connect(file.state, { readOnly: true });
    const now = new Set(resolution.tables.map((t) => tableKey(file.name, t.ref)));
    const missing = (await listTableKeys(state, file.state.schema, file.name)).filter((k) => !now.has(k)).map((k) => k.slice(file.name.length + 1));
    const failing = resolution.tables.filter((t) => !t.config).length;
    io.out(
      `pipeline ${file.name}: ${resolution.tables.length} table(s) from ${file.entries.length} entr${file.entries.length === 1 ? 'y' : 'ies'}${failing > 0 ? `, ${failing} that cannot run as configured` : ''}`,
    );
    for (const t of resolution.tables) io.out(resolutionLine(t));
    for (const warning of resolution.warnings) io.out(`warning: ${warning}`);
    for (const table of missing)
      io.out(`missing: ${table} has state from earlier runs but no entry resolves to it now (dropped at the source?); its state is kept`);
    // A table that cannot run as configured is a usage error (2); one whose source table is missing a failure (1).
    if (resolution.tables.some((t) => t.error instanceof ConfigError)) return ExitCode.usage;
    return failing > 0 ? ExitCode.failed : ExitCode.ok;
  } finally {
    await Promise.all([close(source), close(state)]);
  }
}

/** `<table> -> <target>  (<mode> / <strategy>)  entry tables[i]`, or the table's error in place of the strategy. */
function resolutionLine(t: PlannedTable): string {
  const what = t.config ? `(${strategyLabel(t.config).mode} / ${strategyLabel(t.config).strategy})` : `error: ${tableProblem(t.error)}`;
  return `${t.table} -> ${t.target}  ${what}  entry tables[${t.entry}]`;
}

/** The full plan of each named table under a header line; one table's failure is printed and the others still planned. */
async function planNamedTables(file: TablesFile, only: readonly string[], io: Io, connect: Connect): Promise<number> {
  return withPlanConnections(file, connect, async (dbs) => {
    const resolution = await resolveFile(dbs.source, file, only);
    let code: number = ExitCode.ok;
    for (const t of resolution.tables) {
      io.out(`-- ======== table ${t.table} -> ${t.target} (entry tables[${t.entry}])`);
      try {
        if (!t.config) throw t.error ?? new ConfigError('the table has no configuration');
        await printPlan(dbs, t.config, io);
      } catch (error) {
        const described = describeError(error);
        for (const line of described.message.split('\n')) io.err(`[${t.table}] ${line}`);
        code = Math.max(code, described.code);
      }
    }
    return code;
  });
}

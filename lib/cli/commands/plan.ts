/**
 * `pgferry plan <file>`: connects read-only and prints the window, the chunks and the SQL a run would execute
 * (./single-plan.ts); for a file that lists tables, what its entries resolve to (./plan-tables.ts).
 */
import { loadPipelineSource } from '../../config/index.ts';
import { openConnection } from '../../connections/index.ts';
import { ExitCode, type Io } from '../output.ts';
import { refuseTableOption } from '../table-option.ts';
import { planTablesCommand } from './plan-tables.ts';
import { printPlan, withPlanConnections, type Connect } from './single-plan.ts';

/** Options of the plan command. */
export interface PlanCommandOptions {
  /** Only these tables of a file that lists tables; each gets the full plan of a single-table file. */
  readonly tables?: readonly string[];
}

/** What the plan command connects with; tests wrap it to count the queries. */
export interface PlanDeps {
  /** @default openConnection */
  readonly connect?: Connect;
}

/** Prints the plan of a pipeline file of either form; every connection is read-only, so nothing changes. */
export async function planCommand(file: string, options: PlanCommandOptions, io: Io, deps: PlanDeps = {}): Promise<number> {
  const loaded = await loadPipelineSource(file);
  const connect = deps.connect ?? ((ref, o) => openConnection(ref, o));
  if (loaded.kind === 'tables') return planTablesCommand(loaded, options, io, connect);
  refuseTableOption(file, options.tables);
  const config = loaded.config;
  return withPlanConnections(config, connect, async (dbs) => {
    await printPlan(dbs, config, io);
    return ExitCode.ok;
  });
}

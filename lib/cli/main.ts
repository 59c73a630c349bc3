/** The `pgferry` command line (see "Commands" in README.md). Exit codes: 0 ok, 1 run failed, 2 invalid configuration or usage, 3 already running. */
import '../local/polyfills.ts';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import type { StartCommandOptions } from './commands/start.ts';
import { describeError, ExitCode, processIo, type Io } from './output.ts';

export { tuneMemoryForStreaming } from './memory.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

/**
 * Builds the program; each action stores its exit code in `result.code`. Command modules are imported when
 * their command runs, so a run never loads the AWS SDK of `start` or the embedded PostgreSQL of `demo`.
 */
function program(io: Io, result: { code: number }): Command {
  const cli = new Command('pgferry')
    .description('Exact, fast PostgreSQL-to-PostgreSQL table pipelines (locally, or on AWS Step Functions)')
    .version(packageJson.version, '-V, --version', 'print the pgferry version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  const set = (code: number): void => {
    result.code = code;
  };
  cli
    .command('validate')
    .argument('<file...>', 'pipeline files')
    .description('validate pipeline files; no connections')
    .action(async (files: string[]) => set(await (await import('./commands/validate.ts')).validateCommand(files, io)));
  cli
    .command('plan')
    .argument('<file>', 'pipeline file')
    .description(
      'connect read-only and print the chunks and every SQL statement a run would execute; for a file that lists tables, what its entries resolve to now',
    )
    .option('--table <name>', 'the full plan of this table of a file that lists tables (schema.name; repeatable)', collect, [])
    .action(async (file: string, o: { table: string[] }) => set(await (await import('./commands/plan.ts')).planCommand(file, { tables: o.table }, io)));
  cli
    .command('run')
    .argument('<file>', 'pipeline file')
    .description('run the pipeline locally through the state machine definition')
    .option('--full-refresh', 'ignore the stored cursor for this run')
    .option('--json', 'print the run summary as JSON, as the last line of stdout')
    .option('--verbose', 'log every task on stderr')
    .option('--table <name>', 'only this table of a file that lists tables (schema.name; repeatable)', collect, [])
    .option('--task-budget <seconds>', 'seconds each task may take, as a Lambda invocation may (default 900)', positiveInt)
    .action(async (file: string, o: { fullRefresh?: boolean; json?: boolean; verbose?: boolean; table: string[]; taskBudget?: number }) =>
      set(await (await import('./commands/run.ts')).runCommand(file, { ...o, tables: o.table }, io)),
    );
  const state = cli.command('state').description('inspect and manage cursor state');
  const tableOption = (command: Command, what: string): Command => command.option('--table <name>', `${what} (schema.name; repeatable)`, collect, []);
  tableOption(state.command('show'), 'only this table of a file that lists tables')
    .argument('<file>', 'pipeline file')
    .description("print the pipeline's state and last runs; for a file that lists tables, every table with state")
    .action(async (file: string, o: { table: string[] }) => set(await (await import('./commands/state.ts')).stateShowCommand(file, { tables: o.table }, io)));
  tableOption(state.command('reset'), 'this table of a file that lists tables (it needs --table or --all)')
    .argument('<file>', 'pipeline file')
    .option('--all', 'every table with state of a file that lists tables')
    .description('forget the cursor: the next run extracts everything')
    .action(async (file: string, o: { table: string[]; all?: boolean }) =>
      set(await (await import('./commands/state.ts')).stateResetCommand(file, { tables: o.table, all: o.all ?? false }, io)),
    );
  tableOption(state.command('unlock'), 'this table of a file that lists tables (it needs --table or --all)')
    .argument('<file>', 'pipeline file')
    .option('--all', 'every table with state of a file that lists tables')
    .description('release the lease of a run that died (its apply would be refused anyway)')
    .action(async (file: string, o: { table: string[]; all?: boolean }) =>
      set(await (await import('./commands/state.ts')).stateUnlockCommand(file, { tables: o.table, all: o.all ?? false }, io)),
    );
  tableOption(state.command('export'), 'only this table of a file that lists tables')
    .argument('<file>', 'pipeline file')
    .description("print the pipeline's cursor as JSON; for a file that lists tables, every table's in one document")
    .action(async (file: string, o: { table: string[] }) => set(await (await import('./commands/state.ts')).stateExportCommand(file, { tables: o.table }, io)));
  tableOption(state.command('import'), 'only this table of the export; with a single-table export, the one table that takes its cursor')
    .argument('<file>', 'pipeline file')
    .argument('<json>', 'a file written by state export')
    .description('store the cursor of a state export (refused while a run holds the lease)')
    .action(async (file: string, json: string, o: { table: string[] }) =>
      set(await (await import('./commands/state.ts')).stateImportCommand(file, json, { tables: o.table }, io)),
    );
  cli
    .command('check')
    .argument('<file>', 'pipeline file')
    .description(
      'connection health (latency, version, sizes, cache hit ratio) and the privileges a run needs; read-only; per table for a file that lists tables',
    )
    .option('--json', 'print the report as JSON, as the last line of stdout')
    .option('--table <name>', 'only this table of a file that lists tables (schema.name; repeatable)', collect, [])
    .action(async (file: string, o: { json?: boolean; table: string[] }) =>
      set(await (await import('./commands/check.ts')).checkCommand(file, { ...(o.json ? { json: true } : {}), tables: o.table }, io)),
    );
  cli
    .command('start')
    .argument('<pipeline>', 'pipeline name')
    .description('start the deployed state machine of a pipeline on AWS; --wait follows it to the end')
    .option('--wait', "follow the execution, print progress and the result; exit with the run's code")
    .option('--full-refresh', 'start with {"full_refresh": true}')
    .option('--json', 'print the execution output (the run summary) as the last line of stdout')
    .option('--state-machine-arn <arn>', 'the state machine to start (default: the one named <name-prefix>-<pipeline>)')
    .option('--region <region>', "AWS region (default: AWS_REGION or the profile's)")
    .option('--name-prefix <prefix>', 'namePrefix of the deployment', 'pgferry')
    .option('--poll-seconds <n>', 'seconds between two looks at the execution', positiveInt, 5)
    .option('--table <name>', 'only this table of a file that lists tables (schema.name; repeatable)', collect, [])
    .action(async (pipeline: string, o: StartCommandOptions) => set(await (await import('./commands/start.ts')).startCommand(pipeline, o, io)));
  cli
    .command('demo')
    .description('round trip on an embedded PostgreSQL: seed, run, change, run, verify')
    .option('--rows <n>', 'rows to seed', positiveInt, 1_000_000)
    .action(async (o: { rows: number }) => set(await (await import('./commands/demo.ts')).demoCommand({ rows: o.rows }, io)));
  return cli;
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const result = { code: ExitCode.ok as number };
  try {
    await program(io, result).parseAsync([...argv]);
    return result.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const { code, message } = describeError(error);
    for (const line of message.split('\n')) io.err(line);
    return code;
  }
}

/** Collects a repeatable option's values. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `pgferry run <file>`: one run through the local state machine. */
import { loadPipelineSource } from '../../config/index.ts';
import { runLocal } from '../../local/runner.ts';
import { runLocalFile } from '../../local/tables.ts';
import { ConfigError } from '../../errors.ts';
import type { TaskLogger } from '../../log.ts';
import { fileSummaryExitCode, fileSummaryLines, progressLine, summaryExitCode, summaryLines, tableSummaryLine, type Io } from '../output.ts';

/** Options of the run command. */
export interface RunCommandOptions {
  readonly fullRefresh?: boolean;
  readonly json?: boolean;
  readonly verbose?: boolean;
  /** Only these tables of a file that lists tables. */
  readonly tables?: readonly string[];
  /** Seconds each task may take. @default 900 */
  readonly taskBudget?: number;
}

/** Runs a pipeline file locally; progress on stderr, `--json` summary as the last stdout line. */
export async function runCommand(file: string, options: RunCommandOptions, io: Io): Promise<number> {
  const source = await loadPipelineSource(file);
  const log: TaskLogger | undefined = options.verbose
    ? {
        info: (m, f) => io.err(`info  ${m} ${JSON.stringify(f ?? {})}`),
        warn: (m, f) => io.err(`warn  ${m} ${JSON.stringify(f ?? {})}`),
        error: (m, f) => io.err(`error ${m} ${JSON.stringify(f ?? {})}`),
      }
    : { info: () => undefined, warn: (m, f) => io.err(`warn  ${m} ${JSON.stringify(f ?? {})}`), error: () => undefined };
  if (source.kind === 'tables') {
    const summary = await runLocalFile(source, {
      fullRefresh: options.fullRefresh ?? false,
      ...(options.taskBudget !== undefined ? { taskBudgetSeconds: options.taskBudget } : {}),
      log,
      ...(options.tables ? { tables: options.tables } : {}),
      onProgress: (table, p) => io.err(`[${table}] ${progressLine(p)}`),
      onTable: (s) => io.err(tableSummaryLine(s)),
    });
    for (const line of fileSummaryLines(summary)) io.err(line);
    if (options.json) io.out(JSON.stringify(summary));
    return fileSummaryExitCode(summary);
  }
  if (options.tables && options.tables.length > 0) throw new ConfigError([{ file, path: '--table', message: 'only for a file that lists tables' }]);
  const summary = await runLocal(source.config, {
    fullRefresh: options.fullRefresh ?? false,
    ...(options.taskBudget !== undefined ? { taskBudgetSeconds: options.taskBudget } : {}),
    log,
    onProgress: (p) => io.err(progressLine(p)),
  });
  for (const line of summaryLines(summary)) io.err(line);
  if (options.json) io.out(JSON.stringify(summary));
  return summaryExitCode(summary);
}

/** `pgferry run <file>`: one run through the local state machine. */
import { loadPipelineFile } from '../../config/index.ts';
import { runLocal } from '../../local/runner.ts';
import type { TaskLogger } from '../../log.ts';
import { progressLine, summaryExitCode, summaryLines, type Io } from '../output.ts';

/** Options of the run command. */
export interface RunCommandOptions {
  readonly fullRefresh?: boolean;
  readonly json?: boolean;
  readonly verbose?: boolean;
}

/** Runs a pipeline file locally; progress on stderr, `--json` summary as the last stdout line. */
export async function runCommand(file: string, options: RunCommandOptions, io: Io): Promise<number> {
  const config = await loadPipelineFile(file);
  const log: TaskLogger | undefined = options.verbose
    ? {
        info: (m, f) => io.err(`info  ${m} ${JSON.stringify(f ?? {})}`),
        warn: (m, f) => io.err(`warn  ${m} ${JSON.stringify(f ?? {})}`),
        error: (m, f) => io.err(`error ${m} ${JSON.stringify(f ?? {})}`),
      }
    : { info: () => undefined, warn: (m, f) => io.err(`warn  ${m} ${JSON.stringify(f ?? {})}`), error: () => undefined };
  const summary = await runLocal(config, {
    fullRefresh: options.fullRefresh ?? false,
    log,
    onProgress: (p) => io.err(progressLine(p)),
  });
  for (const line of summaryLines(summary)) io.err(line);
  if (options.json) io.out(JSON.stringify(summary));
  return summaryExitCode(summary);
}

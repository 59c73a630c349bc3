/** `pgferry validate <file...>`: validates pipeline files without connecting. */
import { loadPipelineFile } from '../../config/index.ts';
import { ConfigError } from '../../errors.ts';
import { ExitCode, type Io } from '../output.ts';

/** Validates every file and reports every problem of every file. */
export async function validateCommand(files: readonly string[], io: Io): Promise<number> {
  let failed = false;
  for (const file of files) {
    try {
      const config = await loadPipelineFile(file);
      io.out(`${file}: ok (pipeline ${config.name}, ${config.sink.strategy.mode})`);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      failed = true;
      for (const line of error.message.split('\n')) io.err(line);
    }
  }
  return failed ? ExitCode.usage : ExitCode.ok;
}

/** `pgferry validate <file...>`: validates pipeline files without connecting. */
import { loadPipelineSource } from '../../config/index.ts';
import { ConfigError } from '../../errors.ts';
import { ExitCode, type Io } from '../output.ts';

/** Validates every file and reports every problem of every file. */
export async function validateCommand(files: readonly string[], io: Io): Promise<number> {
  let failed = false;
  for (const file of files) {
    try {
      const source = await loadPipelineSource(file);
      if (source.kind === 'single') io.out(`${file}: ok (pipeline ${source.config.name}, ${source.config.sink.strategy.mode})`);
      else {
        const entries = source.entries.map((e) => `${e.text} (${e.template.sink.strategy.mode})`).join(', ');
        io.out(`${file}: ok (pipeline ${source.name}, ${source.entries.length} table entr${source.entries.length === 1 ? 'y' : 'ies'}: ${entries})`);
      }
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      failed = true;
      for (const line of error.message.split('\n')) io.err(line);
    }
  }
  return failed ? ExitCode.usage : ExitCode.ok;
}

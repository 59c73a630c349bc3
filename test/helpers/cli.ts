import { main } from '../../lib/cli/main.ts';
import type { Io } from '../../lib/cli/output.ts';

/** An Io that keeps every line written to stdout and stderr. */
export function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

/** Runs `pgferry <args>` in-process and returns its exit code and output lines. */
export async function cli(...args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const io = capture();
  const code = await main(['node', 'pgferry', ...args], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** Starts the runs of a crash plan in one child process (test/helpers/crash-child.ts) and SIGKILLs it once they stand where the test wants them. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CrashRun } from './crash-child.ts';

/**
 * Writes `runs` to `planFile`, starts the child, waits for `reached` (or fails with the child's output if it
 * exits first), then kills it with SIGKILL and waits for it to be gone. The child is killed on any failure too.
 */
export async function runAndKill(runs: readonly CrashRun[], planFile: string, reached: () => Promise<unknown>): Promise<void> {
  writeFileSync(planFile, JSON.stringify(runs));
  const child = spawn(process.execPath, ['--import', 'tsx', join('test', 'helpers', 'crash-child.ts'), planFile], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const early = exited.then((code) => new Error(`the child exited (${code}) before every run reached its point:\n${output}`));
  try {
    const outcome = await Promise.race([reached(), early]);
    if (outcome instanceof Error) throw outcome;
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

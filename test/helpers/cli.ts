import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
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

/** The CLI as users start it; bin/pgferry.js runs the compiled bundle when it is current. */
export const BIN = join(process.cwd(), 'bin', 'pgferry.js');

/** Runs `node bin/pgferry.js <args>` in a fresh process; never throws for a non-zero exit code. */
export async function runBin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { env: process.env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

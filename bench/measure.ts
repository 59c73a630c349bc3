/**
 * Runs a command as a child process and measures its wall time and peak RSS: with GNU `/usr/bin/time -v`
 * when installed (the kernel's ru_maxrss of the child, largest of its processes for a shell pipe), else by
 * reading the child's VmHWM (the kernel's own high-water mark) every 50 ms, else by sampling `ps -o rss`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** How peak RSS was measured. */
export type RssMethod = 'gnu-time' | 'proc-vmhwm' | 'ps-sampling';

/** Result of {@link measure}. */
export interface Measured {
  readonly code: number;
  readonly wallMs: number;
  /** Peak resident set size in kB, when it could be measured. */
  readonly peakRssKb: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

const GNU_TIME = '/usr/bin/time';
const SAMPLE_MS = 50;

/** Whether `command --version` runs: the command is on PATH. */
export function onPath(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The method this machine supports. */
export function rssMethod(): RssMethod {
  if (existsSync(GNU_TIME)) return 'gnu-time';
  return existsSync('/proc/self/status') ? 'proc-vmhwm' : 'ps-sampling';
}

async function sampleRss(pid: number, method: RssMethod): Promise<number | undefined> {
  if (method === 'proc-vmhwm') {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    return match ? Number(match[1]) : undefined;
  }
  const out = await new Promise<string>((resolve) => {
    const ps = spawn('ps', ['-o', 'rss=', '-p', String(pid)]);
    let text = '';
    ps.stdout.on('data', (d: Buffer) => (text += d.toString()));
    ps.on('close', () => resolve(text));
    ps.on('error', () => resolve(''));
  });
  const n = Number(out.trim());
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Runs `command args` with `env` added to the bench's environment; never throws for a non-zero exit. */
export async function measure(command: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<Measured> {
  const method = rssMethod();
  const dir = await mkdtemp(join(tmpdir(), 'pgferry-bench-time-'));
  const timeFile = join(dir, 'time.txt');
  const [cmd, argv] = method === 'gnu-time' ? [GNU_TIME, ['-v', '-o', timeFile, command, ...args]] : [command, [...args]];
  try {
    const started = performance.now();
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let peak: number | undefined;
    const timer =
      method === 'gnu-time'
        ? undefined
        : setInterval(() => {
            if (child.pid === undefined) return;
            void sampleRss(child.pid, method).then((kb) => {
              if (kb !== undefined) peak = Math.max(peak ?? 0, kb);
            });
          }, SAMPLE_MS);
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c ?? 1));
    });
    const wallMs = performance.now() - started;
    if (timer) clearInterval(timer);
    if (method === 'gnu-time') {
      const report = await readFile(timeFile, 'utf8').catch(() => '');
      const match = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
      peak = match ? Number(match[1]) : undefined;
    }
    return { code, wallMs, peakRssKb: peak, stdout, stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

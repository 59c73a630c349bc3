/** What the CLI prints: exit codes, progress lines, summaries. Progress and messages go to stderr. */
import { redact } from '../connections/index.ts';
import { ConfigError, ErrorNames, NotSupportedError, PgferryError } from '../errors.ts';
import type { RunProgress } from '../local/runner.ts';
import type { FileRunSummary, TableRunSummary } from '../local/tables.ts';
import type { RunSummary } from '../state/types.ts';

/** Exit codes of every command (listed under "Commands" in README.md). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  alreadyRunning: 3,
} as const;

/** Where the CLI writes; tests pass their own. */
export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** The process's stdout and stderr. */
export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Errors whose names mean "the configuration or the request is wrong": exit 2. */
const USAGE_ERRORS = new Set<string>([ErrorNames.config, ErrorNames.notSupported]);

/** Exit code of a run summary. */
export function summaryExitCode(summary: RunSummary): number {
  if (summary.status === 'succeeded') return ExitCode.ok;
  if (summary.status === 'skipped') return ExitCode.alreadyRunning;
  return summary.error && USAGE_ERRORS.has(summary.error.name) ? ExitCode.usage : ExitCode.failed;
}

/** Exit code and message of an error thrown outside a run (config loading, connecting for plan...). */
export function describeError(error: unknown): { code: number; message: string } {
  if (error instanceof ConfigError || error instanceof NotSupportedError) return { code: ExitCode.usage, message: redact(error.message) };
  if (error instanceof PgferryError)
    return { code: error.name === ErrorNames.leaseHeld ? ExitCode.alreadyRunning : ExitCode.failed, message: `${error.name}: ${redact(error.message)}` };
  if (error instanceof Error) return { code: ExitCode.failed, message: `${error.name}: ${redact(error.message)}` };
  return { code: ExitCode.failed, message: redact(String(error)) };
}

/** `12,345` (by hand: the first toLocaleString call loads ICU data, a cost every run would pay at startup). */
export function count(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `1.2 MB` */
export function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** One progress line: chunks done, rows, rows/s. */
export function progressLine(p: RunProgress): string {
  const seconds = Math.max(p.elapsedMs / 1000, 0.001);
  return `[${p.runId}] chunks ${p.chunksDone}/${p.chunks}  rows ${count(p.rows)}  ${count(p.rows / seconds)} rows/s  ${bytes(p.bytes)}`;
}

/** A human-readable summary of a run, several lines. */
export function summaryLines(s: RunSummary): string[] {
  const seconds = Math.max(s.durationMs / 1000, 0.001);
  const lines = [
    `pipeline ${s.pipeline} run ${s.runId}: ${s.status} (${s.mode ?? '-'} / ${s.strategy ?? '-'})`,
    `  rows extracted ${count(s.rowsExtracted)}, inserted ${count(s.rowsInserted)}, deleted ${count(s.rowsDeleted)} in ${s.chunks} chunk(s), ${bytes(s.bytes)}`,
    `  ${seconds.toFixed(2)} s, ${count(s.rowsExtracted / seconds)} rows/s`,
  ];
  if (s.error) lines.push(`  error ${s.error.name}: ${redact(s.error.message)}`);
  return lines;
}

/** Exit code of a run of a file of tables: 1 when any table failed, 3 when every table was skipped (its lease held), else 0. */
export function fileSummaryExitCode(summary: FileRunSummary): number {
  if (summary.status === 'failed') return ExitCode.failed;
  if (summary.status === 'skipped') return ExitCode.alreadyRunning;
  return ExitCode.ok;
}

/** One line per table as its run ends. */
export function tableSummaryLine(s: TableRunSummary): string {
  const seconds = Math.max(s.durationMs / 1000, 0.001);
  const rows = `extracted ${count(s.rowsExtracted)}, inserted ${count(s.rowsInserted)}, deleted ${count(s.rowsDeleted)}`;
  const error = s.error ? `: ${s.error.name}: ${redact(s.error.message)}` : '';
  return `[${s.table}] ${s.status} (${s.mode ?? '-'} / ${s.strategy ?? '-'}) into ${s.target}: ${rows}, ${seconds.toFixed(2)} s${error}`;
}

/** The end of a run of a file of tables: totals, tables left without an entry, warnings. */
export function fileSummaryLines(s: FileRunSummary): string[] {
  const t = s.totals;
  const lines = [
    `pipeline ${s.pipeline} run ${s.runId}: ${s.status}; ${t.tables} table(s): ${t.succeeded} succeeded, ${t.failed} failed, ${t.skipped} skipped`,
    `  rows extracted ${count(t.rowsExtracted)}, inserted ${count(t.rowsInserted)}, deleted ${count(t.rowsDeleted)} in ${t.chunks} chunk(s), ${bytes(t.bytes)}, ${(s.durationMs / 1000).toFixed(2)} s`,
  ];
  for (const table of s.missing)
    lines.push(`  missing: ${table} has state from earlier runs but no entry resolves to it now (dropped at the source?); its state is kept`);
  for (const warning of s.warnings) lines.push(`  warning: ${warning}`);
  return lines;
}

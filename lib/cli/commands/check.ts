/** `pgferry check <file>`: connection health and the privileges a run needs, read-only; per table for a file that lists tables. */
import { checkPipeline, privilegeLine, type CheckReport, type ConnectionHealth, type Scope } from '../../check/index.ts';
import { loadPipelineSource, type TablesFile } from '../../config/index.ts';
import { openConnection } from '../../connections/index.ts';
import { close } from '../../db/index.ts';
import { resolveFile, type FileResolution, type PlannedTable } from '../../workflow/tables.ts';
import { ident } from '../../sql/quote.ts';
import { bytes, count, ExitCode, type Io } from '../output.ts';
import { refuseTableOption, tableProblem } from '../table-option.ts';

/** Options of the check command. */
export interface CheckCommandOptions {
  /** Print the report as JSON, as the last line of stdout (the human report then goes to stderr). */
  readonly json?: boolean;
  /** Only these tables of a file that lists tables. @default every table its entries resolve to */
  readonly tables?: readonly string[];
}

/** One table's part of the check of a file that lists tables: its report, or why it cannot run as configured. */
export interface TableCheck {
  readonly table: string;
  readonly target: string;
  readonly entry: number;
  readonly report?: CheckReport;
  readonly error?: { readonly name: string; readonly message: string };
}

/**
 * Checks a pipeline file: exit 0 when a run has everything it needs (warnings allowed), 1 when something is missing.
 * For a file that lists tables, every table (or those of `--table`) is checked as its own pipeline; the exit code is the
 * worst of the tables' (2 for a table that cannot run as configured).
 */
export async function checkCommand(file: string, options: CheckCommandOptions, io: Io): Promise<number> {
  const loaded = await loadPipelineSource(file);
  if (loaded.kind === 'tables') return checkTables(loaded, options, io);
  refuseTableOption(file, options.tables);
  const report = await checkPipeline(loaded.config);
  const print = options.json ? io.err : io.out;
  for (const line of reportLines(report)) print(line);
  if (options.json) io.out(JSON.stringify(report));
  return report.ok ? ExitCode.ok : ExitCode.failed;
}

/** The check of each table of a file under a header line, `max_parallel_tables` tables at a time, printed in name order. */
async function checkTables(file: TablesFile, options: CheckCommandOptions, io: Io): Promise<number> {
  const source = await openConnection(file.source, { readOnly: true });
  let resolution: FileResolution;
  try {
    resolution = await resolveFile(source, file, options.tables);
  } finally {
    await close(source);
  }
  const checks = new Array<TableCheck>(resolution.tables.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let n = next++; n < resolution.tables.length; n = next++) {
      const t = resolution.tables[n] as PlannedTable;
      const base = { table: t.table, target: t.target, entry: t.entry };
      checks[n] = t.config
        ? { ...base, report: await checkPipeline(t.config) }
        : { ...base, error: { name: t.error?.name ?? 'ConfigError', message: tableProblem(t.error) } };
    }
  };
  await Promise.all(Array.from({ length: Math.min(file.max_parallel_tables, Math.max(resolution.tables.length, 1)) }, worker));

  const print = options.json ? io.err : io.out;
  let code: number = ExitCode.ok;
  for (const c of checks) {
    print(`== table ${c.table} -> ${c.target} (entry tables[${c.entry}])`);
    if (c.report) {
      for (const line of reportLines(c.report)) print(line);
      code = Math.max(code, c.report.ok ? ExitCode.ok : ExitCode.failed);
    } else {
      print(`${MISSING} ${c.error?.name ?? 'ConfigError'}: ${c.error?.message ?? ''}`);
      code = Math.max(code, ExitCode.usage);
    }
  }
  for (const warning of resolution.warnings) print(`warning: ${warning}`);
  const failing = checks.filter((c) => !c.report?.ok).length;
  print(`pgferry check: pipeline ${file.name}: ${checks.length} table(s), ${checks.length - failing} ok, ${failing} not`);
  if (options.json) io.out(JSON.stringify({ pipeline: file.name, ok: failing === 0, tables: checks, warnings: resolution.warnings }));
  return code;
}

const OK = '✓';
const MISSING = '✗';
const WARNING = '!';
const NOTE = '·';

function healthLines(h: ConnectionHealth): string[] {
  if (!h.ok) return [];
  const ratio = h.cacheHitRatio === null || h.cacheHitRatio === undefined ? 'no blocks read yet' : `${(h.cacheHitRatio * 100).toFixed(2)}%`;
  return [
    `  ${OK} connected: PostgreSQL ${h.serverVersion ?? '?'} as ${h.user ?? '?'}, latency ${h.latencyMs ?? '?'} ms (median of 3 round trips)`,
    `  ${OK} database ${ident(h.database ?? '?')}: ${bytes(h.databaseSizeBytes ?? 0)}, ${count(h.tableCount ?? 0)} ${h.tableCount === 1 ? 'table' : 'tables'}, cache hit ratio ${ratio}`,
  ];
}

function rows(n: number | null | undefined): string {
  return n === null || n === undefined ? 'never analyzed' : `~${count(n)} rows`;
}

/** Lines about the source or target table itself. */
function objectLines(report: CheckReport, scope: Scope): string[] {
  if (scope === 'source' && report.source) {
    const s = report.source;
    const plan = s.planRows !== undefined ? `; the extraction plans ~${count(s.planRows)} rows` : '';
    if (s.kind === 'query') return [`  ${s.planRows !== undefined ? OK : NOTE} source.query${plan}`];
    if (!s.exists) return [];
    return [`  ${OK} table ${s.table ?? ''}: ${rows(s.estimatedRows)}, ${bytes(s.sizeBytes ?? 0)}${plan}`];
  }
  if (scope === 'target' && report.target) {
    const t = report.target;
    return [
      t.exists
        ? `  ${NOTE} table ${t.table}: ${rows(t.estimatedRows)}, ${bytes(t.sizeBytes ?? 0)}, owner ${t.owner ?? '?'}`
        : `  ${NOTE} table ${t.table} does not exist yet`,
    ];
  }
  return [];
}

/** The human report: one block per connection, then a verdict. */
export function reportLines(report: CheckReport): string[] {
  const lines = [`pgferry check: pipeline ${report.pipeline}`];
  const privilegeMissing = new Set(report.privileges.filter((p) => !p.granted).map(privilegeLine));
  for (const scope of ['source', 'target', 'state'] as const) {
    const h = report.connections[scope];
    const mine = (list: readonly string[]): string[] => list.filter((l) => l.startsWith(`${scope}: `)).map((l) => l.slice(scope.length + 2));
    lines.push(h.sharedWith ? `${scope.padEnd(7)} in the ${h.sharedWith}'s database (${h.connection})` : `${scope.padEnd(7)} ${h.connection}`);
    if (!h.sharedWith) lines.push(...healthLines(h));
    lines.push(...objectLines(report, scope));
    for (const p of report.privileges.filter((x) => x.scope === scope)) {
      lines.push(`  ${p.granted ? OK : MISSING} ${p.privilege} on ${p.on}${p.granted ? '' : ': MISSING'} (${p.why})`);
    }
    for (const problem of report.missing.filter((m) => !privilegeMissing.has(m))) {
      if (problem.startsWith(`${scope}: `)) lines.push(`  ${MISSING} ${problem.slice(scope.length + 2)}`);
    }
    for (const warning of mine(report.warnings)) lines.push(`  ${WARNING} ${warning}`);
    for (const note of mine(report.notes)) lines.push(`  ${NOTE} ${note}`);
  }
  const warned = report.warnings.length > 0 ? ` (${report.warnings.length} warning${report.warnings.length === 1 ? '' : 's'})` : '';
  if (report.ok) {
    lines.push(`ok: a run has every connection and privilege it needs${warned}`);
  } else {
    lines.push(`${MISSING} ${report.missing.length} thing(s) a run needs are missing${warned}:`);
    for (const m of report.missing) lines.push(`  ${m}`);
  }
  return lines;
}

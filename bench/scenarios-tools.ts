/** Scenarios without a pgferry run: the reference pipe, pgloader, and the CLI's start-up. */
import { join } from 'node:path';
import { targetSql } from './dataset.ts';
import { measure, type Measured } from './measure.ts';
import { ROOT } from './pgferry.ts';
import { runPgloader } from './pgloader.ts';
import { pipeStatements, runPipe } from './pipe.ts';
import { MAIN, type BenchContext, type Scenario } from './scenario.ts';
import { checkpoint, sql } from './server.ts';

/**
 * Another tool loading the main table into `target` of the target database (PK + index, like pgferry's targets),
 * emptied and checkpointed before each run: the reference pipe, and pgloader.
 */
function toolScenario(
  base: Pick<Scenario, 'name' | 'groups' | 'description' | 'kind' | 'optional'>,
  target: string,
  load: (ctx: BenchContext) => Promise<Measured>,
): Scenario {
  return {
    ...base,
    tables: { source: MAIN, target },
    // A table like the main one; emptied by a TRUNCATE of its own before each run.
    disk: { copies: 1, during: 0 },
    async setup(ctx) {
      await sql(ctx.urls.target, targetSql(ctx.shape, target));
    },
    async prepare(ctx) {
      await sql(ctx.urls.target, [`TRUNCATE ${target}`]);
      await checkpoint(ctx.urls.target);
    },
    async run(ctx) {
      const m = await load(ctx);
      return { wallMs: m.wallMs, peakRssKb: m.peakRssKb, rows: ctx.rows };
    },
    async cleanup(ctx) {
      await sql(ctx.urls.target, [`VACUUM ANALYZE ${target}`]);
    },
  };
}

/** The plain COPY pipe into `public.orders_pipe`. */
export function pipeScenario(): Scenario {
  const target = 'public.orders_pipe';
  return toolScenario(
    { name: 'pipe', groups: ['pipe'], description: 'binary COPY TO STDOUT | COPY FROM STDIN into a logged table with PK + 1 index', kind: 'pipe' },
    target,
    (ctx) => runPipe(ctx.pipe, ctx.urls, pipeStatements(ctx.shape, MAIN, target)),
  );
}

/** pgloader into `public.orders` of the target database (pgloader loads a table into the same name); it also truncates. */
export function pgloaderScenario(): Scenario {
  return toolScenario(
    {
      name: 'pgloader',
      groups: ['pgloader'],
      description: 'pgloader, data only, into an existing table with PK + 1 index (for comparison; no target)',
      kind: 'pgloader',
      optional: true,
    },
    MAIN,
    (ctx) => runPgloader(ctx.dir, ctx.urls, MAIN),
  );
}

/** `pgferry --help`: what every run pays before its first query (node, tsx, loading the CLI's modules). */
export function startupScenario(): Scenario {
  return {
    name: 'cli_startup',
    groups: ['overhead', 'startup'],
    description: 'node bin/pgferry.js --help: process start-up and module loading, no run',
    kind: 'pgferry',
    tables: { source: '', target: '' },
    disk: { copies: 0, during: 0 },
    async setup() {},
    async prepare() {},
    async run() {
      const m = await measure(process.execPath, [join(ROOT, 'bin/pgferry.js'), '--help']);
      if (m.code !== 0) throw new Error(`pgferry --help failed (exit ${m.code}): ${m.stderr.slice(-2000)}`);
      return { wallMs: m.wallMs, peakRssKb: m.peakRssKb, rows: 0 };
    },
    async cleanup() {},
  };
}

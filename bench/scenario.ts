/**
 * What a measured scenario is, and the builder every pgferry scenario uses. Each has untimed `setup` (once),
 * `prepare` (before every timed run) and `cleanup` (after it) steps around one timed `run`, so the bench can
 * interleave them: A B C A B C ...
 */
import { targetSql, type Shape } from './dataset.ts';
import type { PipeKind } from './options.ts';
import { runPgferry, writePipeline, type PipelineSpec } from './pgferry.ts';
import { checkpoint, sql } from './server.ts';

/** What every scenario shares. */
export interface BenchContext {
  readonly urls: { readonly source: string; readonly target: string };
  /** Directory of the pipeline files. */
  readonly dir: string;
  /** Rows of the main source table `public.orders`. */
  readonly rows: number;
  /** Its columns (`--table`). */
  readonly shape: Shape;
  readonly pipe: PipeKind;
  readonly log: (line: string) => void;
}

/** One timed run. */
export interface Sample {
  /** Wall time of the process (pipe: both ends; pgferry: `node bin/pgferry.js run`, start to exit). */
  readonly wallMs: number;
  /** pgferry's own durationMs (the run, without process start-up and module loading). */
  readonly runMs?: number;
  readonly peakRssKb?: number;
  /** Rows moved: all rows of a full load, the changed rows of an incremental one. */
  readonly rows: number;
  readonly chunks?: number;
  /** 1-minute load average when the run ended (the machine may be shared). */
  readonly load1?: number;
}

/** A measured scenario. */
export interface Scenario {
  readonly name: string;
  /** Names `--only` also accepts for this scenario. */
  readonly groups: readonly string[];
  readonly description: string;
  readonly kind: 'pipe' | 'pgferry' | 'pgloader';
  /** A failed run drops the scenario from the later rounds instead of ending the bench (other tools than ours). */
  readonly optional?: boolean;
  /** Source table (source database) and target table (target database) compared by `--verify`. */
  readonly tables: { readonly source: string; readonly target: string };
  /** The disk it takes, in copies of the main table with its indexes (summed by peakCopies in bench/disk.ts). */
  readonly disk: DiskShare;
  setup(ctx: BenchContext): Promise<void>;
  prepare(ctx: BenchContext, round: number): Promise<void>;
  run(ctx: BenchContext): Promise<Sample>;
  cleanup(ctx: BenchContext): Promise<void>;
  /** The pipeline file, once set up (pgferry scenarios). */
  pipelineFile?: string;
}

/**
 * Copies of the main source table (with its indexes) a scenario keeps in the two databases from its setup on
 * (`copies`: its own source copy, its target, the dead rows its merges leave), and what a run of it adds
 * while in flight (`during`: staging, the old files of a truncated target until the commit).
 */
export interface DiskShare {
  readonly copies: number;
  readonly during: number;
}

/** The main source table, of `rows` rows. */
export const MAIN = 'public.orders';

/** A pgferry run of the pipeline `spec` into `base.tables.target`, its target created at setup, checkpointed before each run. */
export async function pgferryScenario(
  base: Omit<Scenario, 'kind' | 'setup' | 'prepare' | 'run' | 'cleanup'>,
  spec: Omit<PipelineSpec, 'sourceTable' | 'targetTable'>,
  hooks: {
    /**
     * CHECKPOINT before `prepare` instead of after it: the source change and the run then fall in one
     * checkpoint cycle, as when a run follows the changes within minutes. After it, the run's first read of
     * the changed rows would pay a full-page image per page for setting hint bits (data checksums on).
     */
    checkpointFirst?: boolean;
    setup?: (ctx: BenchContext, self: Scenario) => Promise<void>;
    prepare?: (ctx: BenchContext, round: number, self: Scenario) => Promise<void>;
    cleanup?: (ctx: BenchContext) => Promise<void>;
  } = {},
): Promise<Scenario> {
  const bare = (t: string): string => t.replace(/^public\./, '');
  const scenario: Scenario = {
    ...base,
    kind: 'pgferry',
    async setup(ctx) {
      await sql(ctx.urls.target, targetSql(ctx.shape, base.tables.target));
      this.pipelineFile = await writePipeline(ctx.dir, { ...spec, sourceTable: bare(base.tables.source), targetTable: bare(base.tables.target) }, ctx.urls);
      await hooks.setup?.(ctx, this);
    },
    async prepare(ctx, round) {
      if (hooks.checkpointFirst) await checkpoint(ctx.urls.target);
      await hooks.prepare?.(ctx, round, this);
      if (!hooks.checkpointFirst) await checkpoint(ctx.urls.target);
    },
    async run() {
      const r = await runPgferry(this.pipelineFile as string);
      return { wallMs: r.wallMs, runMs: r.summary.durationMs, peakRssKb: r.peakRssKb, rows: r.summary.rowsExtracted, chunks: r.summary.chunks };
    },
    async cleanup(ctx) {
      // So autovacuum never holds a lock the next timed run waits for (deadlock_timeout, 1 s, before it yields).
      await sql(ctx.urls.target, [`VACUUM ANALYZE ${base.tables.target}`]);
      await hooks.cleanup?.(ctx);
    },
  };
  return scenario;
}

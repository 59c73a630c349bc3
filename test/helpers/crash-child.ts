/**
 * Runs pipelines in a child process, each stopping dead at one step boundary, for the crash tests:
 *
 *   node --import tsx test/helpers/crash-child.ts <plan.json>
 *
 * `plan.json` is a list of `{file, point, ready, runId}`: every run starts at once (each pipeline its own
 * databases); when a run reaches its `point` it writes its `ready` file (JSON: point, runId, pid) and waits
 * forever, so the parent can SIGKILL the process with every run stopped where it wants it. The faults are
 * wired only here, through runLocal's wrapTask and hooks; lib/ has no test-only path. Points:
 *   after-plan    Plan returned (lease taken, run recorded, staging created)
 *   mid-copy      nothing here: the parent holds the source COPY with an advisory lock (see crash.test.ts)
 *   after-chunks  every chunk is staged, Apply has not started
 *   mid-apply     inside the Apply transaction, after the strategy SQL and the cursor update, before COMMIT
 *   after-apply   Apply committed, Finalize has not run
 *   none          runs to the end; the summary is printed
 */
import '../../lib/local/polyfills.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadPipelineFile } from '../../lib/config/index.ts';
import { runLocal } from '../../lib/local/runner.ts';

/** Crash points the child knows. */
export const CRASH_POINTS = ['after-plan', 'mid-copy', 'after-chunks', 'mid-apply', 'after-apply', 'none'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** One run of the plan file. */
export interface CrashRun {
  readonly file: string;
  readonly point: CrashPoint;
  readonly ready: string;
  readonly runId: string;
}

/** Tells the parent where this run is, then never returns. */
function stopHere(run: CrashRun): Promise<never> {
  writeFileSync(run.ready, JSON.stringify({ point: run.point, runId: run.runId, pid: process.pid }));
  return new Promise<never>(() => undefined);
}

async function runOne(run: CrashRun): Promise<void> {
  const config = await loadPipelineFile(run.file);
  const summary = await runLocal(config, {
    runId: run.runId,
    retryIntervalMs: 50,
    wrapTask: (key, fn) => async (input, deps) => {
      if (key === 'apply' && run.point === 'after-chunks') await stopHere(run);
      const output = await fn(input, deps);
      if ((key === 'plan' && run.point === 'after-plan') || (key === 'apply' && run.point === 'after-apply')) await stopHere(run);
      return output;
    },
    hooks: {
      beforeApplyCommit: async () => {
        if (run.point === 'mid-apply') await stopHere(run);
      },
    },
  });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

const planFile = process.argv[2];
if (!planFile) {
  process.stderr.write('usage: crash-child.ts <plan.json>  (a list of {file, point, ready, runId})\n');
  process.exit(2);
}
const runs = JSON.parse(readFileSync(planFile, 'utf8')) as CrashRun[];
const unknown = runs.find((r) => !(CRASH_POINTS as readonly string[]).includes(r.point));
if (unknown) {
  process.stderr.write(`unknown crash point ${JSON.stringify(unknown.point)}; known: ${CRASH_POINTS.join(', ')}\n`);
  process.exit(2);
}
// Keeps the process alive while runs wait at their points (a pending promise alone does not).
const alive = setInterval(() => undefined, 60_000);
await Promise.all(runs.map(runOne));
clearInterval(alive);

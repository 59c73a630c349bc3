/** The CloudWatch metrics each task adds after it succeeds (dimensions: service, pipeline). */
import { MetricUnit, type Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import type { RunSummary } from '../state/types.ts';
import type { FileFunctionKey, FunctionKey } from '../workflow/definition.ts';
import type { FileOutcome } from '../workflow/tasks/summarize.ts';
import type { ChunkOutput, PlanOutput } from '../workflow/types.ts';
import { Metrics } from './constants.ts';

/** Where metrics go; Powertools' Metrics in a Lambda, a spy in tests. */
export type MetricsSink = Pick<PowertoolsMetrics, 'addMetric'>;

/** Adds a task's metrics from its output and how long it took. */
export type TaskMetricsRecorder = (metrics: MetricsSink, output: unknown, elapsedMs: number) => void;

const n = Metrics.names;

/** The metrics of each task. Finalize carries the run's totals; the others say where the time goes. */
export const TASK_METRICS: Readonly<Record<FunctionKey | FileFunctionKey, TaskMetricsRecorder>> = {
  plan: (m, output) => m.addMetric(n.chunks, MetricUnit.Count, (output as PlanOutput).chunks.length),
  extractChunk: (m, output, ms) => {
    const chunk = output as ChunkOutput;
    m.addMetric(n.chunkRows, MetricUnit.Count, chunk.rows);
    m.addMetric(n.chunkBytes, MetricUnit.Bytes, chunk.bytes);
    m.addMetric(n.chunkDuration, MetricUnit.Milliseconds, ms);
  },
  apply: (m, _output, ms) => m.addMetric(n.applyDuration, MetricUnit.Milliseconds, ms),
  finalize: (m, output) => {
    const run = output as RunSummary;
    m.addMetric(n.rowsExtracted, MetricUnit.Count, run.rowsExtracted);
    m.addMetric(n.rowsInserted, MetricUnit.Count, run.rowsInserted);
    m.addMetric(n.rowsDeleted, MetricUnit.Count, run.rowsDeleted);
    m.addMetric(n.bytes, MetricUnit.Bytes, run.bytes);
    m.addMetric(n.runDuration, MetricUnit.Milliseconds, run.durationMs);
    m.addMetric(n.runsSucceeded, MetricUnit.Count, 1);
  },
  recordFailure: (m) => m.addMetric(n.runsFailed, MetricUnit.Count, 1),
  cleanup: (m, output) => {
    if ((output as { recorded?: boolean }).recorded) m.addMetric(n.runsCleanedUp, MetricUnit.Count, 1);
  },
  tables: () => undefined,
  // The file's run succeeded (no table failed): what its freshness alarm counts, under the file's name.
  summarize: (m, output) => {
    if ((output as FileOutcome).status !== 'failed') m.addMetric(n.runsSucceeded, MetricUnit.Count, 1);
  },
};

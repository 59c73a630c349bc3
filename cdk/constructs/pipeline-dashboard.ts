/** A pipeline's row of the pgferry dashboard: rows moved, durations, and how its executions ended. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Metrics } from '../../lib/aws/constants.ts';

/** A metric the task Lambdas emit for this pipeline (namespace pgferry, dimensions service and pipeline, as Powertools writes them). */
export function pipelineMetric(pipeline: string, metricName: string, statistic: string, period: Duration = Duration.hours(1)): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: Metrics.namespace,
    metricName,
    dimensionsMap: { service: Metrics.service, [Metrics.dimension]: pipeline },
    statistic,
    period,
  });
}

/** Widgets of one pipeline, one dashboard row. */
export function pipelineDashboardRow(pipeline: string, stateMachine: sfn.IStateMachine): cloudwatch.IWidget[] {
  const n = Metrics.names;
  const m = (name: string, statistic: string, label: string) => pipelineMetric(pipeline, name, statistic).with({ label });
  const height = 6;
  return [
    new cloudwatch.GraphWidget({
      title: `${pipeline}: rows per hour`,
      left: [m(n.rowsExtracted, 'Sum', 'extracted'), m(n.rowsInserted, 'Sum', 'inserted'), m(n.rowsDeleted, 'Sum', 'deleted')],
      right: [m(n.bytes, 'Sum', 'bytes')],
      width: 8,
      height,
    }),
    new cloudwatch.GraphWidget({
      title: `${pipeline}: durations`,
      left: [
        m(n.runDuration, 'Maximum', 'run (max, ms)'),
        m(n.applyDuration, 'Maximum', 'apply (max, ms)'),
        m(n.chunkDuration, 'p90', 'chunk (p90, ms)'),
        stateMachine.metricTime({ statistic: 'Maximum', period: Duration.hours(1), label: 'execution (max, ms)' }),
      ],
      width: 8,
      height,
    }),
    new cloudwatch.GraphWidget({
      title: `${pipeline}: runs`,
      left: [
        stateMachine.metricSucceeded({ statistic: 'Sum', period: Duration.hours(1), label: 'executions succeeded' }),
        stateMachine.metricFailed({ statistic: 'Sum', period: Duration.hours(1), label: 'executions failed' }),
        stateMachine.metricTimedOut({ statistic: 'Sum', period: Duration.hours(1), label: 'executions timed out' }),
        m(n.runsSkipped, 'Sum', 'skipped (another run held the lease)'),
        m(n.taskErrors, 'Sum', 'task errors (retries included)'),
      ],
      width: 8,
      height,
    }),
  ];
}

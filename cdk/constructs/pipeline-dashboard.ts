/**
 * The deployment's dashboard: rows moved, durations and run outcomes of every pipeline, one line per
 * pipeline found by CloudWatch SEARCH (so the dashboard does not grow with the pipelines and stays within
 * CloudWatch's widget limits at hundreds of them), then the task functions' invocations, errors, throttles
 * and durations.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Metrics } from '../../lib/aws/constants.ts';
import type { FunctionKey } from '../../lib/workflow/definition.ts';

const HOUR = Duration.hours(1);

/** One line per pipeline of the deployment (`service` is its namePrefix) of a pgferry metric, labelled with the pipeline. */
export function perPipeline(namePrefix: string, metricName: string, statistic: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{${Metrics.namespace},${Metrics.dimension},service} service="${namePrefix}" MetricName="${metricName}"', '${statistic}', ${HOUR.toSeconds()})`,
    label: "${PROP('Dim.pipeline')}",
    period: HOUR,
  });
}

/** One line per state machine of the deployment of a Step Functions metric. */
function perStateMachine(metricName: string, namePrefix: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{AWS/States,StateMachineArn} MetricName="${metricName}" "stateMachine:${namePrefix}-"', 'Sum', ${HOUR.toSeconds()})`,
    label: `${metricName} \${PROP('Dim.StateMachineArn')}`,
    period: HOUR,
  });
}

/** The dashboard's widgets. */
export function deploymentDashboardWidgets(namePrefix: string, functions: Readonly<Record<FunctionKey, lambda.IFunction>>): cloudwatch.IWidget[][] {
  const n = Metrics.names;
  const height = 6;
  const fns = Object.entries(functions) as [FunctionKey, lambda.IFunction][];
  const byFunction = (metric: (fn: lambda.IFunction) => cloudwatch.IMetric) => fns.map(([, fn]) => metric(fn));
  return [
    [
      new cloudwatch.GraphWidget({ title: 'Rows extracted per hour, by pipeline', left: [perPipeline(namePrefix, n.rowsExtracted, 'Sum')], width: 8, height }),
      new cloudwatch.GraphWidget({
        title: 'Longest run per hour (ms), by pipeline',
        left: [perPipeline(namePrefix, n.runDuration, 'Maximum')],
        width: 8,
        height,
      }),
      new cloudwatch.GraphWidget({
        title: 'Slowest chunk per hour (ms), by pipeline',
        left: [perPipeline(namePrefix, n.chunkDuration, 'Maximum')],
        width: 8,
        height,
      }),
    ],
    [
      new cloudwatch.GraphWidget({
        title: 'Failed and timed-out executions, by pipeline',
        left: [perStateMachine('ExecutionsFailed', namePrefix), perStateMachine('ExecutionsTimedOut', namePrefix)],
        width: 8,
        height,
      }),
      new cloudwatch.GraphWidget({
        title: 'Skipped runs (another run held the lease), by pipeline',
        left: [perPipeline(namePrefix, n.runsSkipped, 'Sum')],
        width: 8,
        height,
      }),
      new cloudwatch.GraphWidget({
        title: 'Runs the cleanup task recorded, by pipeline',
        left: [perPipeline(namePrefix, n.runsCleanedUp, 'Sum')],
        width: 8,
        height,
      }),
    ],
    [
      new cloudwatch.GraphWidget({
        title: 'Task errors',
        left: byFunction((fn) => fn.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) })),
        width: 8,
        height,
      }),
      new cloudwatch.GraphWidget({
        title: 'Task throttles (reserved concurrency reached)',
        left: byFunction((fn) => fn.metricThrottles({ statistic: 'Sum', period: Duration.minutes(5) })),
        width: 8,
        height,
      }),
      new cloudwatch.GraphWidget({
        title: 'Longest task duration (ms)',
        left: byFunction((fn) => fn.metricDuration({ statistic: 'Maximum', period: Duration.minutes(5) })),
        width: 8,
        height,
      }),
    ],
  ];
}

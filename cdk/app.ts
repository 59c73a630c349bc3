/** The CDK app (cdk.json): the pgferry stack of every pipeline file in pipelines/ (or -c pipelinesDir=...). */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lib/errors.ts';
import { buildPgferryApp } from './build.ts';

try {
  await buildPgferryApp(new App());
} catch (error) {
  // The same lines `pgferry validate` prints, without a stack trace.
  if (!(error instanceof ConfigError)) throw error;
  for (const line of error.message.split('\n')) console.error(line);
  process.exit(2);
}

/** IAM resources of the Secrets Manager secrets a pipeline names: exactly those, never `*`. */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { PipelineConfig } from '../../lib/config/index.ts';
import { connectionsOf } from '../pipelines.ts';

/** A complete secret ARN ends in the 6 characters Secrets Manager appends to the name. */
const COMPLETE_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;
const ANY_SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;

/**
 * The ARN pattern IAM needs for one `connection_id`: a complete ARN as it is; a partial ARN or a plain
 * name (`orders_oltp`, `rds!db-...`) followed by `-??????`, the random suffix of the real ARN, in this
 * stack's partition, region and account.
 */
export function secretResourceArn(stack: Stack, connectionId: string): string {
  if (connectionId.startsWith('arn:')) {
    if (!ANY_SECRET_ARN.test(connectionId)) {
      throw new Error(
        `connection_id ${connectionId} is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>); give the secret's ARN or its name`,
      );
    }
    return COMPLETE_ARN.test(connectionId) ? connectionId : `${connectionId}-??????`;
  }
  return stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${connectionId}-??????`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
}

/** Every secret the pipeline's connections (source, sink, state) name, deduplicated, in file order. */
export function pipelineSecretArns(stack: Stack, config: PipelineConfig): string[] {
  const ids = connectionsOf(config)
    .filter(({ connection }) => connection.connection_type === 'secretsmanager')
    .map(({ connection }) => connection.connection_id);
  return [...new Set(ids)].map((id) => secretResourceArn(stack, id));
}

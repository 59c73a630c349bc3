/**
 * One task Lambda of the deployment: a NodejsFunction (esbuild, ES module, minified, source maps) of
 * `lambdas/<task>.ts`, on arm64 and Node.js 22+, with the validated configurations of every pipeline (and
 * the RDS CA bundle, when given) copied into its asset, and its reserved concurrency.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { BundledFiles, LAMBDA_TASK_ROOT, LambdaEnv, Metrics } from '../../lib/aws/constants.ts';
import { CA_BUNDLE_ENV } from '../../lib/connections/tls.ts';
import { LAMBDA_TIMEOUT_SECONDS, type FileFunctionKey, type FunctionKey } from '../../lib/workflow/definition.ts';
import { BUNDLE_OPTIONS, LAMBDA_ENTRIES, PROJECT_ROOT } from '../bundling.ts';

/** The Amazon CA file of the Lambda runtime (Node.js 20+ runtimes no longer load it by default); it includes the RDS CAs. */
export const RUNTIME_CA_FILE = '/var/runtime/ca-cert.pem';

/** Default memory of each task, in MB. */
export const TASK_MEMORY_DEFAULTS: Readonly<Record<FunctionKey | FileFunctionKey, number>> = {
  plan: 512,
  // One full vCPU: a COPY stream is bound by one core's socket and TLS work, and network bandwidth grows with memory.
  extractChunk: 1769,
  apply: 512,
  finalize: 512,
  recordFailure: 512,
  cleanup: 512,
  tables: 512,
  summarize: 256,
};

/** Network placement of the task Lambdas. */
export interface TaskPlacement {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroups: readonly ec2.ISecurityGroup[];
}

/** Properties of {@link TaskFunction}. */
export interface TaskFunctionProps {
  /** Which task this Lambda runs. */
  readonly task: FunctionKey | FileFunctionKey;
  /** The deployment's state machine name prefix (the cleanup maps events back to pipelines with it). @default 'pgferry' */
  readonly namePrefix?: string;
  /** The bundled pipelines file (see lib/aws/bundled-pipelines.ts), copied into the asset. */
  readonly pipelinesFile: string;
  /** Execution role; the caller grants it its secrets and log group. */
  readonly role: iam.IRole;
  /** Where the function logs. */
  readonly logGroup: logs.ILogGroup;
  /** VPC placement. @default outside any VPC (publicly reachable databases only) */
  readonly placement?: TaskPlacement;
  /** PEM bundle of the RDS CAs, shipped in the asset and used for `verify-full`. @default the runtime's CA file via NODE_EXTRA_CA_CERTS */
  readonly caBundle?: string;
  /** @default TASK_MEMORY_DEFAULTS[task] */
  readonly memorySize?: number;
  /** Node.js 22 or newer. @default NODEJS_22_X */
  readonly runtime?: lambda.Runtime;
  /** At most this many run at once. @default none reserved */
  readonly reservedConcurrency?: number;
  /** Where asynchronous invocations (EventBridge's) that keep failing go. @default none */
  readonly deadLetterQueue?: sqs.IQueue;
}

/** A task Lambda, shared by every pipeline of the deployment. */
export class TaskFunction extends Construct {
  /** The Lambda function. */
  public readonly function: nodejs.NodejsFunction;

  public constructor(scope: Construct, id: string, props: TaskFunctionProps) {
    super(scope, id);
    const runtime = props.runtime ?? lambda.Runtime.NODEJS_22_X;
    const major = /^nodejs(\d+)\.x$/.exec(runtime.name)?.[1];
    if (major === undefined || Number(major) < 22) {
      throw new Error(`TaskFunction ${id}: runtime ${runtime.name} is not supported; use Node.js 22 or newer (lambda.Runtime.NODEJS_22_X or NODEJS_24_X)`);
    }
    const memorySize = props.memorySize ?? TASK_MEMORY_DEFAULTS[props.task];
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) {
      throw new Error(`TaskFunction ${id}: memorySize ${memorySize} is out of range; give a whole number of MB from 128 to 10240`);
    }
    if (props.reservedConcurrency !== undefined && (!Number.isInteger(props.reservedConcurrency) || props.reservedConcurrency < 1)) {
      throw new Error(
        `TaskFunction ${id}: reservedConcurrency ${props.reservedConcurrency} is out of range; give a whole number of 1 or more, or leave it out`,
      );
    }
    if (props.caBundle !== undefined && !existsSync(props.caBundle)) {
      throw new Error(`TaskFunction ${id}: caBundle ${props.caBundle} does not exist; download the RDS CA bundle there or leave caBundle unset`);
    }

    const copies: [string, string][] = [[props.pipelinesFile, BundledFiles.pipelines]];
    if (props.caBundle !== undefined) copies.push([props.caBundle, BundledFiles.caBundle]);
    const tls: Record<string, string> =
      props.caBundle !== undefined ? { [CA_BUNDLE_ENV]: `${LAMBDA_TASK_ROOT}/${BundledFiles.caBundle}` } : { NODE_EXTRA_CA_CERTS: RUNTIME_CA_FILE };

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, LAMBDA_ENTRIES[props.task]),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout: Duration.seconds(LAMBDA_TIMEOUT_SECONDS),
      // A version outlives the deploys after it: an execution that started before them still invokes it.
      currentVersionOptions: { removalPolicy: RemovalPolicy.RETAIN },
      ...(props.reservedConcurrency !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrency } : {}),
      ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
      role: props.role,
      logGroup: props.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      description: `pgferry ${props.task} task of every pipeline of the deployment`,
      ...(props.placement ? { vpc: props.placement.vpc, vpcSubnets: props.placement.subnets, securityGroups: [...props.placement.securityGroups] } : {}),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        [LambdaEnv.namePrefix]: props.namePrefix ?? 'pgferry',
        [LambdaEnv.pipelinesFile]: `${LAMBDA_TASK_ROOT}/${BundledFiles.pipelines}`,
        // The deployment's prefix: the `service` dimension of its metrics, so two deployments in one account never mix.
        POWERTOOLS_SERVICE_NAME: props.namePrefix ?? Metrics.service,
        POWERTOOLS_METRICS_NAMESPACE: Metrics.namespace,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...tls,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: BUNDLE_OPTIONS.target,
        minify: BUNDLE_OPTIONS.minify,
        sourceMap: BUNDLE_OPTIONS.sourcemap,
        sourcesContent: BUNDLE_OPTIONS.sourcesContent,
        mainFields: [...BUNDLE_OPTIONS.mainFields],
        banner: BUNDLE_OPTIONS.banner.js,
        externalModules: [...BUNDLE_OPTIONS.external],
        bundleAwsSDK: true,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_input: string, output: string) => copies.map(([from, to]) => `cp ${shellQuote(from)} ${shellQuote(join(output, to))}`),
        },
      },
    });
    if (Number(major) < 24) {
      NagSuppressions.addResourceSuppressions(this.function, [
        {
          id: 'AwsSolutions-L1',
          reason: `${runtime.name} is the runtime pgferry is built and tested on (Node.js 22 LTS, supported by Lambda into 2027). Set lambdaRuntime to nodejs24.x in pgferry.settings.json to move to the newest.`,
        },
      ]);
    }
  }
}

/** Single-quotes a path for the bundling shell. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

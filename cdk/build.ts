/** Builds the pgferry CDK app from the deploy settings and the pipeline files: what cdk/app.ts runs and the tests synthesize. */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PROJECT_ROOT } from './bundling.ts';
import { PipelineStack } from './pipeline-stack.ts';
import { loadDeployablePipelines } from './pipelines.ts';
import { loadDeploySettings } from './settings.ts';

/** Options of {@link buildPgferryApp}. */
export interface BuildOptions {
  /** Anchors relative paths and the default settings file. @default the repository root */
  readonly projectDir?: string;
  /**
   * The account and region to deploy to; both or neither. @default CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION,
   * which the CDK CLI sets whenever credentials resolve (every `cdk deploy`); without them the stack is
   * environment-agnostic, so `cdk synth` works offline.
   */
  readonly env?: { readonly account?: string | undefined; readonly region?: string | undefined };
}

/** Adds the pgferry stack to `app` and cdk-nag's AWS Solutions checks; ConfigError for invalid settings or pipeline files. */
export async function buildPgferryApp(app: App, options: BuildOptions = {}): Promise<PipelineStack> {
  const settings = loadDeploySettings((key) => app.node.tryGetContext(key), options.projectDir ?? PROJECT_ROOT);
  const { pipelines, files } = await loadDeployablePipelines(settings.pipelinesDir);
  const account = options.env ? options.env.account : process.env.CDK_DEFAULT_ACCOUNT;
  const region = options.env ? options.env.region : process.env.CDK_DEFAULT_REGION;
  const stack = new PipelineStack(app, settings.stackName, {
    pipelines,
    files,
    settings,
    ...(account && region ? { env: { account, region } } : {}),
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return stack;
}

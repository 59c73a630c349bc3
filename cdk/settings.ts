/**
 * Deploy settings: where the pipelines are, the network the task Lambdas run in, the CA bundle, alarm
 * e-mail... read from `pgferry.settings.json` (optional) and overridden by CDK context
 * (`-c vpcId=vpc-123 -c subnetIds=subnet-a,subnet-b`). Every problem is reported at once, naming where
 * the value came from, like a pipeline file's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../lib/errors.ts';
import { FUNCTION_KEYS, type FunctionKey } from '../lib/workflow/definition.ts';

/** Default name of the settings file, beside cdk.json. */
export const SETTINGS_FILE = 'pgferry.settings.json';

/** Lambda runtimes pgferry deploys on (Node.js 22 or newer). */
export const LAMBDA_RUNTIMES = ['nodejs22.x', 'nodejs24.x'] as const;
export type LambdaRuntimeName = (typeof LAMBDA_RUNTIMES)[number];

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** The VPC the task Lambdas run in. */
export interface VpcSettings {
  /** `vpc-...` */
  readonly vpcId: string;
  /** Private subnets with a route to the databases and to Secrets Manager (VPC endpoint or NAT). */
  readonly subnetIds: readonly string[];
  /** Security groups the databases accept; @default one created by the stack (allow it on the databases) */
  readonly securityGroupIds?: readonly string[];
}

/** Everything the CDK app needs besides the pipeline files, with defaults applied. */
export interface DeploySettings {
  /** CloudFormation stack name. @default 'pgferry' */
  readonly stackName: string;
  /** State machines are named `<namePrefix>-<pipeline>` (what `pgferry start` looks for). @default 'pgferry' */
  readonly namePrefix: string;
  /** Directory of the pipeline files, absolute. @default `<project>/pipelines` */
  readonly pipelinesDir: string;
  /** The VPC of the task Lambdas; `undefined` runs them outside any VPC, for publicly reachable databases. */
  readonly vpc?: VpcSettings;
  /** Whether running outside a VPC was asked for explicitly (`"vpc": false`), which silences the synth warning. */
  readonly noVpcAcknowledged: boolean;
  /** PEM bundle of the RDS certificate authorities shipped in the Lambda asset, absolute. @default the runtime's /var/runtime/ca-cert.pem */
  readonly caBundle?: string;
  /** Subscribed by e-mail to the alarm topic. @default no subscription */
  readonly alarmEmail?: string;
  /** Retention of every log group, in days. @default 90 */
  readonly logRetentionDays: (typeof LOG_RETENTION_DAYS)[number];
  /** @default 'nodejs22.x' */
  readonly lambdaRuntime: LambdaRuntimeName;
  /** Memory of the ExtractChunk Lambda in MB: 1769 MB is one full vCPU, which one COPY stream can use. @default 1769 */
  readonly extractMemoryMb: number;
  /** Memory of the other task Lambdas in MB. @default 512 */
  readonly taskMemoryMb: number;
  /** Customer-managed KMS keys that encrypt the connection secrets; the tasks may decrypt through Secrets Manager only. @default none (the AWS-managed key) */
  readonly secretsKmsKeyArns: readonly string[];
  /**
   * Reserved concurrency of each task function, shared by every pipeline of the deployment: at most this many
   * of that task run at once, so the databases see a bounded number of sessions (ExtractChunk opens two or three)
   * and pgferry can never take the account's whole Lambda concurrency. `false` reserves none.
   * @default RESERVED_CONCURRENCY_DEFAULTS
   */
  readonly reservedConcurrency: Readonly<Record<FunctionKey, number>> | false;
  /**
   * How many nested stacks the pipelines are spread over, each pipeline by a hash of its name, so a pipeline
   * keeps its stack as others are added. Fixed at the first deploy: changing it moves pipelines between stacks.
   * @default 16
   */
  readonly pipelineStacks: number;
}

/** Default reserved concurrency per task function (77 in all). */
export const RESERVED_CONCURRENCY_DEFAULTS: Readonly<Record<FunctionKey, number>> = {
  plan: 10,
  // Each running chunk holds a source and a target session, and after a minute its heartbeat's (one more when the state is elsewhere).
  extractChunk: 32,
  apply: 10,
  finalize: 10,
  recordFailure: 10,
  cleanup: 5,
};

/** Defaults of {@link DeploySettings}. */
export const SETTINGS_DEFAULTS = {
  stackName: 'pgferry',
  namePrefix: 'pgferry',
  pipelinesDir: 'pipelines',
  logRetentionDays: 90,
  lambdaRuntime: 'nodejs22.x',
  extractMemoryMb: 1769,
  taskMemoryMb: 512,
  pipelineStacks: 16,
} as const;

/** An EC2 id: the prefix and 8 or 17 hexadecimal characters. */
const ec2Id = (prefix: string) => new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`);

const idList = (prefix: string) =>
  z.array(z.string().regex(ec2Id(prefix), `expected ${prefix}-<8 or 17 hex> ids`)).min(1, `expected at least one ${prefix}-... id`);

const concurrency = z.number().int().min(1, 'at least 1 (false reserves none)').max(1000, 'at most 1000');

const memory = z.number().int().min(128, 'at least 128 MB').max(10240, 'at most 10240 MB');

const SettingsSchema = z.strictObject({
  stackName: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'a CloudFormation stack name: letters, digits and -, starting with a letter')
    .optional(),
  namePrefix: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,15}$/, 'lower-case letters, digits and -, at most 16 characters (state machine names are <namePrefix>-<pipeline>, at most 80)')
    .optional(),
  pipelinesDir: z.string().min(1).optional(),
  vpc: z
    .union([
      z.literal(false),
      z.strictObject({
        vpcId: z.string().regex(ec2Id('vpc'), 'expected vpc-<8 or 17 hex>'),
        subnetIds: idList('subnet'),
        securityGroupIds: idList('sg').optional(),
      }),
    ])
    .optional(),
  caBundle: z.string().min(1).optional(),
  alarmEmail: z.email('expected an e-mail address').optional(),
  logRetentionDays: z
    .number()
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `one of ${LOG_RETENTION_DAYS.join(', ')}`)
    .optional(),
  lambdaRuntime: z.enum(LAMBDA_RUNTIMES).optional(),
  extractMemoryMb: memory.optional(),
  taskMemoryMb: memory.optional(),
  secretsKmsKeyArns: z
    .array(
      z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(mrk-)?[0-9a-f-]+$/, 'expected arn:aws:kms:<region>:<account>:key/<id> (or key/mrk-<id>)'),
    )
    .optional(),
  reservedConcurrency: z
    .union([
      z.literal(false),
      z.strictObject(Object.fromEntries(FUNCTION_KEYS.map((k) => [k, concurrency.optional()])) as Record<FunctionKey, z.ZodOptional<typeof concurrency>>),
    ])
    .optional(),
  pipelineStacks: z.number().int().min(1, 'at least 1').max(100, 'at most 100').optional(),
});
type RawSettings = z.infer<typeof SettingsSchema>;

/** Context keys that override the settings file (`-c key=value`); lists are comma-separated. */
export const CONTEXT_KEYS = [
  'settingsFile',
  'stackName',
  'namePrefix',
  'pipelinesDir',
  'vpcId',
  'subnetIds',
  'securityGroupIds',
  'noVpc',
  'caBundle',
  'alarmEmail',
  'logRetentionDays',
  'lambdaRuntime',
  'extractMemoryMb',
  'taskMemoryMb',
  'secretsKmsKeyArns',
  'pipelineStacks',
] as const;

/** Reads a context value: `(key) => node.tryGetContext(key)`. */
export type ContextReader = (key: string) => unknown;

/**
 * The deploy settings from the settings file (if present) and context. `projectDir` anchors relative
 * paths of context values and the default file; paths in the file are relative to the file.
 */
export function loadDeploySettings(context: ContextReader, projectDir: string): DeploySettings {
  const problems: ConfigProblem[] = [];
  const contextFile = asText(context('settingsFile'));
  const file = resolve(projectDir, contextFile ?? SETTINGS_FILE);
  let fromFile: RawSettings = {};
  if (existsSync(file)) {
    fromFile = parseSettings(readJson(file, problems), file, problems);
  } else if (contextFile !== undefined) {
    problems.push({ file, path: '', message: 'settings file not found (from -c settingsFile)' });
  }
  const fileDir = dirname(file);
  const fromContext = parseSettings(contextSettings(context, problems), 'CDK context', problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const path = (value: string | undefined, base: string): string | undefined =>
    value === undefined ? undefined : isAbsolute(value) ? value : resolve(base, value);
  const pick = <K extends keyof RawSettings>(key: K): { value: RawSettings[K]; base: string } =>
    fromContext[key] !== undefined ? { value: fromContext[key], base: projectDir } : { value: fromFile[key], base: fileDir };

  const vpc = pick('vpc').value;
  const caBundle = pick('caBundle');
  const settings: DeploySettings = {
    stackName: pick('stackName').value ?? SETTINGS_DEFAULTS.stackName,
    namePrefix: pick('namePrefix').value ?? SETTINGS_DEFAULTS.namePrefix,
    pipelinesDir: path(
      pick('pipelinesDir').value ?? SETTINGS_DEFAULTS.pipelinesDir,
      pick('pipelinesDir').value === undefined ? projectDir : pick('pipelinesDir').base,
    ) as string,
    ...(vpc ? { vpc } : {}),
    noVpcAcknowledged: vpc === false,
    ...(caBundle.value !== undefined ? { caBundle: path(caBundle.value, caBundle.base) as string } : {}),
    ...(pick('alarmEmail').value !== undefined ? { alarmEmail: pick('alarmEmail').value as string } : {}),
    logRetentionDays: (pick('logRetentionDays').value ?? SETTINGS_DEFAULTS.logRetentionDays) as DeploySettings['logRetentionDays'],
    lambdaRuntime: pick('lambdaRuntime').value ?? SETTINGS_DEFAULTS.lambdaRuntime,
    extractMemoryMb: pick('extractMemoryMb').value ?? SETTINGS_DEFAULTS.extractMemoryMb,
    taskMemoryMb: pick('taskMemoryMb').value ?? SETTINGS_DEFAULTS.taskMemoryMb,
    secretsKmsKeyArns: pick('secretsKmsKeyArns').value ?? [],
    reservedConcurrency: reservedConcurrency(pick('reservedConcurrency').value),
    pipelineStacks: pick('pipelineStacks').value ?? SETTINGS_DEFAULTS.pipelineStacks,
  };
  if (settings.caBundle !== undefined && !existsSync(settings.caBundle)) {
    throw new ConfigError([
      {
        file: caBundle.base === projectDir && fromContext.caBundle !== undefined ? 'CDK context' : file,
        path: 'caBundle',
        message: `file not found: ${settings.caBundle} (download the RDS bundle, e.g. global-bundle.pem, or leave caBundle out to use the Lambda runtime's CA file)`,
      },
    ]);
  }
  return settings;
}

function reservedConcurrency(value: RawSettings['reservedConcurrency']): DeploySettings['reservedConcurrency'] {
  if (value === false) return false;
  return { ...RESERVED_CONCURRENCY_DEFAULTS, ...Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) };
}

function readJson(file: string, problems: ConfigProblem[]): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    problems.push({ file, path: '', message: `cannot read the settings: ${error instanceof Error ? error.message : String(error)}` });
    return {};
  }
}

function parseSettings(value: unknown, file: string, problems: ConfigProblem[]): RawSettings {
  const parsed = SettingsSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const keys =
      issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}; allowed: ${Object.keys(SettingsSchema.shape).join(', ')}` : issue.message;
    problems.push({ file, path: issue.path.join('.'), message: keys });
  }
  return {};
}

function asText(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

/** Context values as settings: strings from `-c`, typed values from cdk.json's context. */
function contextSettings(context: ContextReader, problems: ConfigProblem[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const text = (key: string): string | undefined => asText(context(key));
  const list = (key: string): string[] | undefined => {
    const v = context(key);
    if (Array.isArray(v)) return v.map(String);
    return text(key)
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  };
  const num = (key: string): number | undefined => {
    const t = text(key);
    if (t === undefined) return undefined;
    const n = Number(t);
    if (!Number.isFinite(n)) problems.push({ file: 'CDK context', path: key, message: `expected a number, got ${JSON.stringify(t)}` });
    return n;
  };
  for (const key of ['stackName', 'namePrefix', 'pipelinesDir', 'caBundle', 'alarmEmail', 'lambdaRuntime'] as const) {
    const v = text(key);
    if (v !== undefined) out[key] = v;
  }
  for (const key of ['logRetentionDays', 'extractMemoryMb', 'taskMemoryMb', 'pipelineStacks'] as const) {
    const v = num(key);
    if (v !== undefined) out[key] = v;
  }
  const kms = list('secretsKmsKeyArns');
  if (kms) out.secretsKmsKeyArns = kms;
  const vpcId = text('vpcId');
  const subnetIds = list('subnetIds');
  const securityGroupIds = list('securityGroupIds');
  const noVpc = text('noVpc');
  if (noVpc !== undefined && noVpc !== 'false') {
    if (vpcId !== undefined) problems.push({ file: 'CDK context', path: 'noVpc', message: `contradicts vpcId=${vpcId}; give one of them` });
    out.vpc = false;
  } else if (vpcId !== undefined || subnetIds !== undefined || securityGroupIds !== undefined) {
    if (vpcId === undefined) problems.push({ file: 'CDK context', path: 'vpcId', message: 'required with subnetIds/securityGroupIds: -c vpcId=vpc-...' });
    else out.vpc = { vpcId, subnetIds: subnetIds ?? [], ...(securityGroupIds ? { securityGroupIds } : {}) };
  }
  return out;
}

/**
 * The pipeline configurations a task Lambda serves. The CDK app validates every pipeline file at synth
 * and writes the parsed configurations into one JSON file that ships in each Lambda's asset (a file,
 * not environment variables, which Lambda caps at 4 KB). Each function serves only the pipelines its
 * `PGFERRY_PIPELINES` names, so a state machine can only ever drive its own pipeline's functions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineConfig } from '../config/index.ts';
import { ConfigError } from '../errors.ts';
import { BundledFiles, LAMBDA_TASK_ROOT, LambdaEnv } from './constants.ts';

/** Format version of the bundled file; bumped when its shape changes. */
export const BUNDLE_VERSION = 1;

/** The bundled file's content. */
export interface PipelineBundle {
  readonly version: typeof BUNDLE_VERSION;
  readonly pipelines: readonly PipelineConfig[];
}

/** The text of the bundled file for these validated configurations (stable: same configs, same bytes, same asset hash). */
export function serializePipelines(configs: readonly PipelineConfig[]): string {
  const sorted = [...configs].sort((a, b) => a.name.localeCompare(b.name));
  const bundle: PipelineBundle = { version: BUNDLE_VERSION, pipelines: sorted };
  return `${JSON.stringify(bundle, null, 1)}\n`;
}

/** Reads the configurations back from the bundled file's text; ConfigError naming the file when it is not one. */
export function parsePipelineBundle(text: string, file: string): PipelineConfig[] {
  let bundle: unknown;
  try {
    bundle = JSON.parse(text);
  } catch {
    throw new ConfigError([{ file, path: '', message: 'not valid JSON; redeploy to regenerate it' }]);
  }
  const b = bundle as Partial<PipelineBundle> | null;
  if (b === null || typeof b !== 'object' || b.version !== BUNDLE_VERSION || !Array.isArray(b.pipelines)) {
    throw new ConfigError([{ file, path: 'version', message: `expected a pgferry pipeline bundle of version ${BUNDLE_VERSION}; redeploy to regenerate it` }]);
  }
  return [...b.pipelines];
}

/** Options of {@link pipelineLookup}. */
export interface PipelineLookupOptions {
  /** Names this function serves; any other is refused. @default every bundled pipeline */
  readonly served?: readonly string[];
  /** Named in errors. @default 'the bundled pipelines' */
  readonly source?: string;
}

/** `TaskDeps.pipeline` over a set of configurations: ConfigError for a name it does not serve. */
export function pipelineLookup(configs: readonly PipelineConfig[], options: PipelineLookupOptions = {}): (name: string) => PipelineConfig {
  const byName = new Map(configs.map((c) => [c.name, c]));
  const served = options.served ?? [...byName.keys()];
  const source = options.source ?? 'the bundled pipelines';
  const missing = served.filter((name) => !byName.has(name));
  if (missing.length > 0) {
    throw new ConfigError(`${source}: ${missing.map((n) => JSON.stringify(n)).join(', ')} not found; it holds ${[...byName.keys()].join(', ') || 'none'}`);
  }
  const allowed = new Set(served);
  return (name) => {
    const config = allowed.has(name) ? byName.get(name) : undefined;
    if (config === undefined) {
      throw new ConfigError(`unknown pipeline ${JSON.stringify(name)}: this function serves ${[...allowed].join(', ') || 'none'}`);
    }
    return config;
  };
}

/** `TaskDeps.pipeline` of a deployed function: the bundled file, narrowed to `PGFERRY_PIPELINES`. */
export function bundledPipelineLookup(env: NodeJS.ProcessEnv = process.env): (name: string) => PipelineConfig {
  const file = env[LambdaEnv.pipelinesFile] || join(env.LAMBDA_TASK_ROOT || LAMBDA_TASK_ROOT, BundledFiles.pipelines);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ file, path: '', message: `cannot read the bundled pipelines: ${(error as NodeJS.ErrnoException).code ?? String(error)}` }]);
  }
  const served = env[LambdaEnv.pipelines]
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return pipelineLookup(parsePipelineBundle(text, file), { ...(served ? { served } : {}), source: file });
}

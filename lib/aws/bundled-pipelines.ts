/**
 * The pipeline configurations a task Lambda serves. The CDK app validates every pipeline file at synth
 * and writes the parsed configurations into one JSON file that ships in each Lambda's asset (a file,
 * not environment variables, which Lambda caps at 4 KB). Each function serves only the pipelines its
 * `PGFERRY_PIPELINES` names, so a state machine can only ever drive its own pipeline's functions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  configForRef,
  fromPortableFile,
  isTableRunRef,
  pipelineKeyOf,
  toPortableFile,
  type PipelineConfig,
  type PortableTablesFile,
  type TablesFile,
} from '../config/index.ts';
import { ConfigError } from '../errors.ts';
import { BundledFiles, LAMBDA_TASK_ROOT, LambdaEnv } from './constants.ts';

/** Format version of the bundled file; bumped when its shape changes. */
export const BUNDLE_VERSION = 1;

/** The bundled file's content. */
export interface PipelineBundle {
  readonly version: typeof BUNDLE_VERSION;
  readonly pipelines: readonly PipelineConfig[];
  /** Files that list tables. @default none */
  readonly files?: readonly PortableTablesFile[];
}

/** The text of the bundled file for these validated configurations (stable: same configs, same bytes, same asset hash). */
export function serializePipelines(configs: readonly PipelineConfig[], files: readonly TablesFile[] = []): string {
  const sorted = [...configs].sort((a, b) => a.name.localeCompare(b.name));
  const portable = [...files].sort((a, b) => a.name.localeCompare(b.name)).map(toPortableFile);
  const bundle: PipelineBundle = { version: BUNDLE_VERSION, pipelines: sorted, ...(portable.length > 0 ? { files: portable } : {}) };
  return `${JSON.stringify(bundle, null, 1)}\n`;
}

/** The files that list tables of a bundle's text (none in a bundle without them). */
export function parseBundledFiles(text: string, file: string): TablesFile[] {
  parsePipelineBundle(text, file);
  const b = JSON.parse(text) as PipelineBundle;
  return (b.files ?? []).map(fromPortableFile);
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

/**
 * `TaskDeps.pipeline` over a set of configurations and files: a pipeline by name, a table run by its reference (its
 * file must be served); ConfigError for anything it does not serve.
 */
export function pipelineLookup(
  configs: readonly PipelineConfig[],
  options: PipelineLookupOptions = {},
  files: readonly TablesFile[] = [],
): (name: string) => PipelineConfig {
  const byName = new Map<string, PipelineConfig | TablesFile>([...configs.map((c) => [c.name, c] as const), ...files.map((f) => [f.name, f] as const)]);
  const served = options.served ?? [...byName.keys()];
  const source = options.source ?? 'the bundled pipelines';
  const missing = served.filter((name) => !byName.has(name));
  if (missing.length > 0) {
    throw new ConfigError(`${source}: ${missing.map((n) => JSON.stringify(n)).join(', ')} not found; it holds ${[...byName.keys()].join(', ') || 'none'}`);
  }
  const allowed = new Set(served);
  const unknown = (name: string): ConfigError =>
    new ConfigError(`unknown pipeline ${JSON.stringify(name)}: this function serves ${[...allowed].join(', ') || 'none'}`);
  return (name) => {
    if (isTableRunRef(name)) {
      const key = pipelineKeyOf(name);
      const owner = byName.get(key.slice(0, Math.max(0, key.indexOf('/'))));
      if (owner === undefined || !('entries' in owner) || !allowed.has(owner.name)) throw unknown(name);
      return configForRef(owner, name);
    }
    const config = allowed.has(name) ? byName.get(name) : undefined;
    if (config === undefined || 'entries' in config) throw unknown(name);
    return config;
  };
}

/** `TaskDeps.file` over a set of files: ConfigError for one it does not serve. */
export function fileLookup(files: readonly TablesFile[], served?: readonly string[]): (name: string) => TablesFile {
  const allowed = served ? new Set(served) : undefined;
  return (name) => {
    const file = files.find((f) => f.name === name);
    if (!file || (allowed && !allowed.has(name)))
      throw new ConfigError(`unknown file of tables ${JSON.stringify(name)}: this function serves ${files.map((f) => f.name).join(', ') || 'none'}`);
    return file;
  };
}

/** `TaskDeps.pipeline` and `TaskDeps.file` of a deployed function: the bundled file, narrowed to `PGFERRY_PIPELINES`. */
export function bundledLookups(env: NodeJS.ProcessEnv = process.env): { pipeline: (name: string) => PipelineConfig; file: (name: string) => TablesFile } {
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
  const files = parseBundledFiles(text, file);
  return {
    pipeline: pipelineLookup(parsePipelineBundle(text, file), { ...(served ? { served } : {}), source: file }, files),
    file: fileLookup(files, served),
  };
}

/** `TaskDeps.pipeline` of a deployed function (see {@link bundledLookups}). */
export function bundledPipelineLookup(env: NodeJS.ProcessEnv = process.env): (name: string) => PipelineConfig {
  return bundledLookups(env).pipeline;
}

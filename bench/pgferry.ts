/** Pipeline files of the bench and `pgferry run` as a child process, so its peak RSS is its own. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, type Measured } from './measure.ts';

/** The repository root (bench/..). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What differs between the bench's pipelines. */
export interface PipelineSpec {
  readonly name: string;
  readonly sourceTable: string;
  readonly targetTable: string;
  /** sink.strategy */
  readonly strategy: Readonly<Record<string, unknown>>;
  /** source.options over pgferry's defaults (chunk_rows 1,000,000, max_parallel_chunks 4). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** Writes `<dir>/<name>.yaml` (JSON is YAML) with url connections; returns its path. */
export async function writePipeline(dir: string, spec: PipelineSpec, urls: { source: string; target: string }): Promise<string> {
  const doc = {
    name: spec.name,
    source: {
      type: 'postgres',
      connection_type: 'url',
      connection_id: urls.source,
      table: { schema: 'public', name: spec.sourceTable },
      ...(spec.options ? { options: spec.options } : {}),
    },
    sink: {
      type: 'postgres',
      connection_type: 'url',
      connection_id: urls.target,
      table: { schema: 'public', name: spec.targetTable },
      strategy: spec.strategy,
    },
  };
  const file = join(dir, `${spec.name}.yaml`);
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

/** The fields of the `run --json` summary the bench reads. */
export interface Summary {
  readonly status: string;
  readonly rowsExtracted: number;
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
  readonly chunks: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly error?: { name: string; message: string };
}

/** A measured `pgferry run`. */
export interface PgferryRun extends Measured {
  readonly summary: Summary;
}

/** `node bin/pgferry.js run <file> --json`, measured; throws unless the run succeeded. */
export async function runPgferry(file: string): Promise<PgferryRun> {
  const measured = await measure(process.execPath, [join(ROOT, 'bin/pgferry.js'), 'run', file, '--json']);
  const last = measured.stdout.trim().split('\n').pop() ?? '';
  let summary: Summary | undefined;
  try {
    summary = JSON.parse(last) as Summary;
  } catch {
    summary = undefined;
  }
  if (measured.code !== 0 || summary?.status !== 'succeeded') {
    throw new Error(
      `pgferry run ${file} failed (exit ${measured.code}): ${summary?.error ? `${summary.error.name}: ${summary.error.message}` : measured.stderr.slice(-2000)}`,
    );
  }
  return { ...measured, summary };
}

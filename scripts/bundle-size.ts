/**
 * `npm run bundle-size`: bundles every task Lambda exactly as the TaskFunction construct does (the
 * options of cdk/bundling.ts), prints the sizes and fails when one is above 1.5 MB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, LAMBDA_ENTRIES, MAX_BUNDLE_BYTES, PROJECT_ROOT } from '../cdk/bundling.ts';
import type { TaskKey } from '../lib/workflow/definition.ts';

/** Size of one task's bundle. */
export interface BundleSize {
  readonly task: TaskKey;
  readonly entry: string;
  /** The bundled code (index.mjs). */
  readonly bytes: number;
  /** Its source map (index.mjs.map), shipped beside it. */
  readonly mapBytes: number;
}

/** Bundles every Lambda entry into a temporary directory and returns the sizes. */
export async function measureBundles(): Promise<BundleSize[]> {
  const outdir = mkdtempSync(join(tmpdir(), 'pgferry-bundle-size-'));
  try {
    const sizes: BundleSize[] = [];
    for (const [task, entry] of Object.entries(LAMBDA_ENTRIES) as [TaskKey, string][]) {
      const result = await build({
        ...BUNDLE_OPTIONS,
        mainFields: [...BUNDLE_OPTIONS.mainFields],
        external: [...BUNDLE_OPTIONS.external],
        entryPoints: [join(PROJECT_ROOT, entry)],
        outfile: join(outdir, task, 'index.mjs'),
        absWorkingDir: PROJECT_ROOT,
        metafile: true,
        logLevel: 'error',
      });
      const outputs = Object.entries(result.metafile.outputs);
      const size = (suffix: string): number => outputs.find(([file]) => file.endsWith(suffix))?.[1].bytes ?? 0;
      sizes.push({ task, entry, bytes: size('index.mjs'), mapBytes: size('index.mjs.map') });
    }
    return sizes;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** `1.03 MB` (MiB, as the limit is stated). */
function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

/** Prints the table and returns the exit code: 1 when a bundle is above the limit. */
export async function main(): Promise<number> {
  const sizes = await measureBundles();
  const width = Math.max(...sizes.map((s) => s.entry.length));
  console.log(`${'lambda'.padEnd(width)}  ${'bundle'.padStart(9)}  ${'source map'.padStart(10)}`);
  for (const s of sizes) console.log(`${s.entry.padEnd(width)}  ${mb(s.bytes).padStart(9)}  ${mb(s.mapBytes).padStart(10)}`);
  const over = sizes.filter((s) => s.bytes > MAX_BUNDLE_BYTES);
  for (const s of over) console.error(`${s.entry}: ${mb(s.bytes)} is above the limit of ${mb(MAX_BUNDLE_BYTES)}`);
  if (over.length === 0) console.log(`all ${sizes.length} bundles are within ${mb(MAX_BUNDLE_BYTES)}`);
  return over.length > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}

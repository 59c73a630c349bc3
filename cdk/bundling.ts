/**
 * How every task Lambda is bundled, in one place: the TaskFunction construct hands it to NodejsFunction
 * and `npm run bundle-size` hands it to esbuild directly, so the size the script reports is the size
 * that deploys. Plain data: no aws-cdk-lib import, so the script stays fast.
 */
import { fileURLToPath } from 'node:url';
import type { FileFunctionKey, FunctionKey } from '../lib/workflow/definition.ts';

/** The repository root (entries, lock file and tsconfig are found from here). */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The Lambda entry file of each task, relative to the project root. */
export const LAMBDA_ENTRIES: Readonly<Record<FunctionKey | FileFunctionKey, string>> = {
  plan: 'lambdas/plan.ts',
  extractChunk: 'lambdas/extract-chunk.ts',
  apply: 'lambdas/apply.ts',
  finalize: 'lambdas/finalize.ts',
  recordFailure: 'lambdas/record-failure.ts',
  cleanup: 'lambdas/cleanup.ts',
  tables: 'lambdas/tables.ts',
  summarize: 'lambdas/summarize.ts',
};

/** esbuild `target` of the bundles: the oldest runtime pgferry deploys on. */
export const BUNDLE_TARGET = 'node22';

/**
 * Left out of the bundle. `pg-native` is the optional libpq binding of `pg`, never loaded (pgferry
 * uses the pure-JavaScript client). The AWS SDK is bundled on purpose: the deployed code then runs
 * the SDK version the tests ran, not whichever one the runtime ships this month.
 */
export const EXTERNAL_MODULES: readonly string[] = ['pg-native'];

/**
 * Gives the ES module bundle a `require`, for the CommonJS dependencies (pg, the X-Ray SDK) that
 * `require()` Node built-ins at run time.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __pgferryCreateRequire } from 'node:module'; const require = __pgferryCreateRequire(import.meta.url);";

/** Largest bundle (the entry's .mjs, without its source map) the size check accepts, in bytes. */
export const MAX_BUNDLE_BYTES = 1.5 * 1024 * 1024;

/** esbuild options of a task bundle, in esbuild's own terms. */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: BUNDLE_TARGET,
  minify: true,
  sourcemap: true,
  // Stack traces need the mappings, not the sources: keeps the map (and the asset) small.
  sourcesContent: false,
  mainFields: ['module', 'main'],
  external: EXTERNAL_MODULES,
  banner: { js: ESM_REQUIRE_BANNER },
} as const;

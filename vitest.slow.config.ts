/** The long tier of the tests (`npm run test:slow`): the bench's smoke run and the soak. CI runs it after `npm test`. */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

export default defineConfig({ test: { ...base.test, include: ['test/slow/**/*.test.ts'], exclude: ['node_modules/**'] } });

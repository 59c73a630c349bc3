import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The long tier (bench smoke, soak): `npm run test:slow`, which CI runs after `npm test`.
    exclude: ['test/slow/**', 'node_modules/**'],
    // Integration tests each start their own embedded PostgreSQL; keep two workers on a 2-core CI box.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/helpers/setup.ts'],
  },
});

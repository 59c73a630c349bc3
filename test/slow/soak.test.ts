import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createStaging } from '../../lib/sink/staging.ts';
import type { RunPlan } from '../../lib/state/types.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/pg.ts';
import { formatReport, runSoak, SCENARIOS } from '../soak/soak.ts';

describe('Feature: soak (the short version of `npm run soak`)', () => {
  let server: TestPostgres;

  beforeAll(async () => {
    server = await startTestPostgres();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('writers change the source while every pipeline reruns: each run leaves a consistent target, the last one the exact source', async () => {
    // Each cursor with a merge and with append, each merge policy once; `npm run soak` runs all six combinations.
    const scenarios = SCENARIOS.filter((s) => ['merge_column', 'append_column', 'upsert_xmin', 'append_xmin'].includes(s.name));
    const report = await runSoak({
      durationMs: 15_000,
      minRuns: 4,
      scenarios,
      sourceUrl: await server.createDatabase('soaksrc'),
      targetUrl: await server.createDatabase('soakdst'),
      connect: (url) => server.client(url),
      writers: 1,
      longWriters: 1,
      longMs: [1000, 3500],
      seedRows: 1500,
      lookbackSeconds: 30,
    });
    const text = formatReport(report).join('\n');
    console.info(text);
    expect(report.problems, text).toEqual([]);
    for (const s of report.scenarios) {
      // At least four runs while the writers wrote, then the final run and a rerun.
      expect(s.succeeded, `${s.name} ran only ${s.succeeded} times`).toBeGreaterThanOrEqual(6);
      expect(s.final?.exact, s.name).toBe(true);
      expect(s.writers.commits + s.writers.rollbacks, s.name).toBeGreaterThan(0);
      expect(s.writers.longTransactions, s.name).toBeGreaterThan(0);
    }
    // The merge writers deleted rows: the final check expects those to stay in the target, as documented.
    expect(report.scenarios.filter((s) => s.name.startsWith('merge') || s.name.startsWith('upsert')).some((s) => s.writers.deletes > 0)).toBe(true);
  }, 150_000);

  it('concurrent first runs of several pipelines create the shared staging schema without failing', async () => {
    // Regression: two pipelines' first runs into one target raced on CREATE SCHEMA IF NOT EXISTS (23505 on pg_namespace).
    const url = await server.createDatabase('stagingrace');
    const sessions: pg.Client[] = await Promise.all(Array.from({ length: 8 }, () => server.client(url)));
    for (let round = 0; round < 4; round += 1) {
      const schema = `staging_race_${round}`;
      const plans = sessions.map((_, i): RunPlan => ({
        columns: [{ name: 'id', type: 'bigint' }],
        staging: { schema, name: `t${i}`, doneName: `t${i}_done` },
        targetExists: false,
        window: { strategy: 'none', lower: null, upper: null, full: true, cursorAfter: null },
      }));
      const results = await Promise.allSettled(
        sessions.map((db, i) => createStaging(db, plans[i] as RunPlan, { pipeline: `p${i}`, runId: `r${round}`, logged: false })),
      );
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { createStaging, loadChunk, stagingNames, stagingTables } from '../../lib/sink/staging.ts';
import { sourceSelect } from '../../lib/sql/extract.ts';
import { qualified } from '../../lib/sql/quote.ts';
import type { RunPlan } from '../../lib/state/types.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';

describe('Function: loadChunk', () => {
  const db = useSourceAndTarget(
    `CREATE TABLE public.t (id bigint PRIMARY KEY, v text); INSERT INTO public.t SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g`,
  );

  // Regression: a retry racing an attempt that was still committing failed the run with 23505 instead of reporting the committed chunk.
  it('lets two concurrent attempts of one chunk load it exactly once, both reporting its rows', async () => {
    const names = stagingNames('p', 'run-1', { schema: 'public', name: 't' });
    const plan: RunPlan = {
      columns: [
        { name: 'id', type: 'bigint' },
        { name: 'v', type: 'text' },
      ],
      staging: { schema: 'pgferry_staging', name: names.name, doneName: names.doneName },
      targetExists: false,
      window: { strategy: 'none', lower: null, upper: null, full: true, cursorAfter: null },
    };
    const [a, b, check] = [await db.server.client(db.targetUrl), await db.server.client(db.targetUrl), await db.server.client(db.targetUrl)];
    const otherSource = await db.server.client(db.sourceUrl);
    await createStaging(a, plan, { pipeline: 'p', runId: 'run-1', logged: false });
    const select = sourceSelect({ table: { schema: 'public', name: 't' } }, ['id', 'v']);
    const results = await Promise.all([loadChunk(db.source, a, plan, 0, select), loadChunk(otherSource, b, plan, 0, select)]);
    expect(results.map((r) => r.rows)).toEqual([50000, 50000]);
    const staged = await check.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM ${qualified(stagingTables(plan).staging)}`);
    expect(staged.rows[0]).toEqual({ n: 50000, d: 50000 });
  });
});

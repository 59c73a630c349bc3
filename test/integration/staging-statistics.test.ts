import { describe, expect, it } from 'vitest';
import { openConnection } from '../../lib/connections/index.ts';
import { runLocal, type LocalRunOptions } from '../../lib/local/runner.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';
import { pipelineConfig } from '../helpers/pipelines.ts';
import { rowHashes } from '../helpers/compare.ts';

// A composite key: delete_insert's DELETE would join staging, which wants statistics.
const SOURCE_DDL = `
CREATE TABLE public.lines (order_id bigint, line int, qty int NOT NULL, updated_at timestamptz(6) NOT NULL, PRIMARY KEY (order_id, line));
INSERT INTO public.lines SELECT g / 4, g % 4, g, timestamptz '2026-06-03 12:00:00+00' + g * interval '1 second' FROM generate_series(1, 2000) g;`;

/** Opens connections as the runner does and keeps the text of every statement sent. */
function recordingConnect(statements: string[]): NonNullable<LocalRunOptions['connect']> {
  return async (ref, options) => {
    const client = await openConnection(ref, options);
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text?: string } | undefined;
      statements.push(typeof first === 'string' ? first : (first?.text ?? ''));
      return original(...args);
    };
    return client;
  };
}

describe('Feature: delete_insert analyzes staging only where its DELETE joins it', () => {
  const db = useSourceAndTarget(SOURCE_DDL);

  const run = async (name: string, targetDdl: string): Promise<string[]> => {
    await db.target.query(targetDdl.replaceAll('TBL', `public.${name}`));
    const config = pipelineConfig(db.sourceUrl, db.targetUrl, {
      name,
      source: { table: { schema: 'public', name: 'lines' } },
      options: { incremental_strategy: 'column', incremental_column: 'updated_at' },
      sink: { table: { schema: 'public', name } },
      strategy: { mode: 'incremental_merge', merge_policy: 'delete_insert', unique_key: ['order_id', 'line'] },
    });
    const statements: string[] = [];
    const summary = await runLocal(config, { connect: recordingConnect(statements) });
    expect(summary.error).toBeUndefined();
    expect(summary.rowsInserted).toBe(2000);
    expect(await rowHashes(db.target, `public.${name}`)).toEqual(await rowHashes(db.source, 'public.lines'));
    return statements.filter((s) => /^\s*ANALYZE\b/i.test(s));
  };

  const withKey = 'CREATE TABLE TBL (order_id bigint, line int, qty int, updated_at timestamptz(6), PRIMARY KEY (order_id, line))';
  const stale = (name: string): string =>
    `INSERT INTO public.${name} SELECT g / 4, g % 4, -1, timestamptz '2000-01-01 00:00:00+00' FROM generate_series(1, 1000) g`;

  it('an empty target: loaded without ANALYZE', async () => {
    expect(await run('si_empty', withKey)).toEqual([]);
  });

  it('an existing target with the key as primary key: merged in place without ANALYZE', async () => {
    expect(await run('si_in_place', `${withKey}; ${stale('si_in_place')}`)).toEqual([]);
  });

  it('an existing target without a unique index on the key: DELETE joins staging, after one ANALYZE of it', async () => {
    const analyzed = await run('si_join', `CREATE TABLE TBL (order_id bigint, line int, qty int, updated_at timestamptz(6)); ${stale('si_join')}`);
    expect(analyzed).toHaveLength(1);
    expect(analyzed[0]).toMatch(/^ANALYZE "pgferry_staging"\."si_join_[0-9a-f]{12}"$/);
  });
});

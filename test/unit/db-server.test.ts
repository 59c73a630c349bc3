import { describe, expect, it } from 'vitest';
import type { Db } from '../../lib/db/index.ts';
import { serverVersion } from '../../lib/db/server.ts';

/** A client that answers every query with `rows` and remembers the text it was sent. */
function fakeDb(rows: unknown[]): Db & { texts: string[] } {
  const texts: string[] = [];
  return {
    texts,
    query: async (text: string) => {
      texts.push(text);
      return { rows };
    },
  } as unknown as Db & { texts: string[] };
}

describe('Function: serverVersion', () => {
  it('returns server_version_num as a number', async () => {
    const db = fakeDb([{ v: 180001 }]);
    expect(await serverVersion(db)).toBe(180001);
    expect(db.texts).toEqual([`SELECT current_setting('server_version_num')::int AS v`]);
  });
  it('is 0 when the server returns no row', async () => {
    expect(await serverVersion(fakeDb([]))).toBe(0);
  });
});

/** Facts about the connected server that decide which SQL pgferry writes for it. */
import { query, type Db } from './index.ts';

/** The server's `server_version_num` (180001 for 18.1), or 0 if it returns no row; `what` names the step in an error message. */
export async function serverVersion(db: Db, what = 'reading the server version'): Promise<number> {
  const result = await query<{ v: number }>(db, `SELECT current_setting('server_version_num')::int AS v`, what);
  return result.rows[0]?.v ?? 0;
}

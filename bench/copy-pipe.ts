/**
 * The reference pipe without psql: `COPY ... TO STDOUT (FORMAT binary)` piped into `COPY ... FROM STDIN
 * (FORMAT binary)` with pg-copy-streams and nothing else, then PIPE_THEN (when set) on the target's connection.
 * Run as its own process by the bench (PIPE_SOURCE_URL, PIPE_TARGET_URL, PIPE_COPY_TO, PIPE_COPY_FROM, PIPE_THEN).
 */
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const source = new pg.Client({ connectionString: env('PIPE_SOURCE_URL') });
const target = new pg.Client({ connectionString: env('PIPE_TARGET_URL') });
await Promise.all([source.connect(), target.connect()]);
try {
  await pipeline(source.query(copyTo(env('PIPE_COPY_TO'))), target.query(copyFrom(env('PIPE_COPY_FROM'))));
  const then = process.env.PIPE_THEN;
  if (then) await target.query(then);
} finally {
  await Promise.all([source.end(), target.end()]);
}

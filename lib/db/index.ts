/**
 * The one place that talks to PostgreSQL: queries, transactions and COPY between two servers.
 * Every error leaves here classified (TransientDatabaseError or DatabaseError), so callers
 * and the state machine's Retry fields see stable names.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { classifyDatabaseError } from '../connections/connect.ts';
import { budgetError, refreshBudget } from './budget.ts';

/** A connected client; the type every module passes around. */
export type Db = pg.Client;

/** A SQL statement with its parameters, as the pure SQL builders return it. */
export interface Statement {
  readonly text: string;
  readonly values?: readonly unknown[];
}

/** Runs one statement and returns its rows; `what` names the step in an error message. */
export async function query<R extends Record<string, unknown> = Record<string, unknown>>(
  db: Db,
  statement: Statement | string,
  what = 'query',
): Promise<pg.QueryResult<R>> {
  const { text, values } = typeof statement === 'string' ? { text: statement, values: undefined } : statement;
  try {
    return await db.query<R>(text, values as unknown[] | undefined);
  } catch (error) {
    throw budgetError(db, error, what) ?? classifyDatabaseError(error, what);
  }
}

/** Runs statements one after another. */
export async function execute(db: Db, statements: readonly (Statement | string)[], what = 'statement'): Promise<void> {
  for (const statement of statements) {
    await query(db, statement, what);
  }
}

/** Whether the client has a transaction open (from the server's last ReadyForQuery; no round trip, no server log noise). */
export function inTransaction(db: Db): boolean {
  const status = db.getTransactionStatus();
  return status === 'T' || status === 'E';
}

/** Runs `work` in one transaction on one client: COMMIT on success, ROLLBACK on any error. */
export async function transaction<T>(db: Db, work: () => Promise<T>, what = 'transaction'): Promise<T> {
  await query(db, 'BEGIN', what);
  try {
    const result = await work();
    await query(db, 'COMMIT', what);
    return result;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Told how many bytes every COPY stream of the process moves; see {@link onCopyProgress}. */
let copyListener: ((bytes: number) => void) | undefined;

/** Registers (or with undefined removes) the one listener told of every chunk any COPY stream moves. */
export function onCopyProgress(listener: ((bytes: number) => void) | undefined): void {
  copyListener = listener;
}

/** Counts the bytes that pass; one addition per network buffer, never per row. */
class ByteCounter extends Transform {
  public bytes = 0;

  public override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    copyListener?.(chunk.length);
    callback(null, chunk);
  }
}

/** Result of {@link copyBetween}. */
export interface CopyResult {
  readonly rows: number;
  readonly bytes: number;
}

/** Streams `COPY ... TO STDOUT` on `source` into `COPY ... FROM STDIN` on `target`; nothing is parsed or held. */
export async function copyBetween(source: Db, target: Db, copyToSql: string, copyFromSql: string): Promise<CopyResult> {
  const counter = new ByteCounter();
  // A stream's statement is not wrapped by the budget: its statement_timeout is set before it starts.
  await Promise.all([refreshBudget(source), refreshBudget(target)]);
  const out = source.query(copyTo(copyToSql));
  const into = target.query(copyFrom(copyFromSql));
  try {
    await pipeline(out, counter, into);
  } catch (error) {
    throw budgetError(source, error, 'COPY') ?? budgetError(target, error, 'COPY') ?? classifyDatabaseError(error, 'COPY');
  }
  return { rows: into.rowCount ?? 0, bytes: counter.bytes };
}

/** Closes a client, ignoring errors of a connection that is already gone. */
export async function close(db: Db | undefined): Promise<void> {
  if (db) await db.end().catch(() => undefined);
}

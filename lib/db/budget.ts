/**
 * A task's time budget on its sessions: every statement runs under a `statement_timeout` of the time the task has
 * left (minus a margin to record what happened), and the session ends itself when its client is gone
 * (`client_connection_check_interval`, PostgreSQL 14+) or leaves a transaction idle
 * (`idle_in_transaction_session_timeout`). Nothing a task started outlives it by more than seconds, whether the
 * task ends, times out or its process dies.
 */
import type pg from 'pg';
import { TaskBudgetExceededError } from '../errors.ts';

/** When a task must be done, and how much of that it keeps to record what happened. */
export interface TaskBudget {
  /** Epoch milliseconds. */
  readonly deadline: number;
  readonly marginMs: number;
  /** The budget as given (for messages): seconds. */
  readonly seconds: number;
}

/** How often the server checks, during a statement, that its client is still there. */
export const CLIENT_CHECK_INTERVAL = '2s';

/** A transaction left idle this long by a session of a task ends the session (its client is gone or stuck). */
export const IDLE_IN_TRANSACTION_MS = 30_000;

/** The margin a task keeps of its budget: 15 s, or a fifth of a short budget. */
export function budgetMargin(budgetMs: number): number {
  return Math.min(15_000, Math.max(200, Math.floor(budgetMs / 5)));
}

/** A budget of `seconds` from now. */
export function budgetOf(seconds: number, now = Date.now()): TaskBudget {
  const ms = seconds * 1000;
  return { deadline: now + ms, marginMs: budgetMargin(ms), seconds };
}

interface Bound {
  readonly budget: TaskBudget;
  /** The session's own statement_timeout (connection_params), in ms; 0 = none. */
  readonly configuredMs: number;
  /** The statement_timeout last set for the budget, in ms. */
  currentMs: number | undefined;
  /** It was set inside a transaction, which a rollback would undo (SET is transactional). */
  setInTransaction: boolean;
}

const BOUND = new WeakMap<pg.Client, Bound>();

/** Milliseconds a statement started now may run. */
function allowance(bound: Bound, now = Date.now()): number {
  return bound.budget.deadline - now - bound.budget.marginMs;
}

/**
 * Binds `db` to the budget: sets the session's idle and client checks, and from then on keeps its statement_timeout
 * at most what the task has left when each statement starts (one `SET` more only when that drops by a second).
 */
export async function bindBudget(db: pg.Client, budget: TaskBudget): Promise<void> {
  const result = (await db.query(
    `SET idle_in_transaction_session_timeout = ${IDLE_IN_TRANSACTION_MS};
SELECT setting::int AS ms, current_setting('server_version_num')::int >= 140000 AS checks FROM pg_catalog.pg_settings WHERE name = 'statement_timeout'`,
  )) as unknown as pg.QueryResult<{ ms: number; checks: boolean }>[];
  const row = result[1]?.rows[0];
  if (row?.checks) await db.query(`SET client_connection_check_interval = '${CLIENT_CHECK_INTERVAL}'`);
  const bound: Bound = { budget, configuredMs: row?.ms ?? 0, currentMs: undefined, setInTransaction: false };
  BOUND.set(db, bound);
  const query = db.query.bind(db) as (...args: unknown[]) => unknown;
  (db as { query: unknown }).query = (...args: unknown[]): unknown => {
    const left = allowance(bound);
    const want = Math.max(1, Math.floor(left));
    const limit = bound.configuredMs > 0 ? Math.min(bound.configuredMs, want) : want;
    const status = db.getTransactionStatus();
    // Out of the transaction it was set in, the value may have been rolled back: set it again.
    if (bound.setInTransaction && status === 'I') bound.currentMs = undefined;
    if (bound.currentMs === undefined || limit < bound.currentMs - 1000) {
      bound.currentMs = limit;
      bound.setInTransaction = status !== 'I';
      // Queued ahead of the statement on the same connection; in a failed transaction it fails harmlessly.
      (query(`SET statement_timeout = ${limit}`) as Promise<unknown>).catch(() => undefined);
    }
    return query(...args);
  };
}

/**
 * The error a statement cancelled by the budget's statement_timeout fails with: TaskBudgetExceededError naming the
 * step; undefined for any other error (a session's own statement_timeout stays a DatabaseError).
 */
export function budgetError(db: pg.Client, error: unknown, what: string): TaskBudgetExceededError | undefined {
  const bound = BOUND.get(db);
  if (!bound || (error as { code?: unknown } | null)?.code !== '57014') return undefined;
  const byBudget = bound.currentMs !== undefined && (bound.configuredMs === 0 || bound.currentMs < bound.configuredMs);
  if (!byBudget || allowance(bound) > 1000) return undefined;
  return new TaskBudgetExceededError(what, bound.budget.seconds, { cause: error });
}

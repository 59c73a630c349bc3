/**
 * A task's time budget on its sessions: every statement runs under a `statement_timeout` of the time the task has
 * left (minus a margin to record what happened), and the session ends itself when its client is gone
 * (`client_connection_check_interval`, PostgreSQL 14+) or leaves a transaction idle past the budget
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
  /** The statement_timeout last set for the budget, in ms; undefined: to be set before the next statement. */
  currentMs: number | undefined;
  /** It was set inside a transaction, which a rollback would undo (SET is transactional). */
  setInTransaction: boolean;
  /** The client's own query method. */
  readonly query: (...args: unknown[]) => unknown;
}

const BOUND = new WeakMap<pg.Client, Bound>();

/** Milliseconds a statement started now may run. */
function allowance(bound: Bound, now = Date.now()): number {
  return bound.budget.deadline - now - bound.budget.marginMs;
}

/**
 * Binds `db` to the budget: sets the session's client check and idle-in-transaction timeout, and from then on
 * keeps its statement_timeout at most what the task has left when each statement starts (one `SET` more, sent
 * before the statement, only when that drops by a second). A COPY stream (a Submittable) is not wrapped: call
 * {@link refreshBudget} before starting one.
 */
export async function bindBudget(db: pg.Client, budget: TaskBudget): Promise<void> {
  // A transaction may stay idle on this session while the task works elsewhere (Apply holds the state's fence
  // while the target runs the strategy), so only the end of the budget ends an idle transaction.
  const idleMs = Math.max(1000, Math.ceil(budget.deadline - Date.now()));
  const result = (await db.query(
    `SET idle_in_transaction_session_timeout = ${idleMs};
SELECT setting::int AS ms, current_setting('server_version_num')::int >= 140000 AS checks FROM pg_catalog.pg_settings WHERE name = 'statement_timeout'`,
  )) as unknown as pg.QueryResult<{ ms: number; checks: boolean }>[];
  const row = result[1]?.rows[0];
  if (row?.checks) await db.query(`SET client_connection_check_interval = '${CLIENT_CHECK_INTERVAL}'`);
  const query = db.query.bind(db) as (...args: unknown[]) => unknown;
  const bound: Bound = { budget, configuredMs: row?.ms ?? 0, currentMs: undefined, setInTransaction: false, query };
  BOUND.set(db, bound);
  (db as { query: unknown }).query = (...args: unknown[]): unknown => {
    const first = args[0] as { submit?: unknown; text?: unknown } | string | undefined;
    // Streams and callbacks go straight through (see refreshBudget); statements wait for the SET before them.
    if ((typeof first === 'object' && first !== null && typeof first.submit === 'function') || typeof args.at(-1) === 'function') return query(...args);
    const text = typeof first === 'string' ? first : typeof first?.text === 'string' ? first.text : '';
    const rollback = /^\s*(ROLLBACK|ABORT)\b/i.test(text);
    return refreshBudget(db).then(() => {
      const run = query(...args) as Promise<unknown>;
      // ROLLBACK (TO SAVEPOINT too) may undo a SET made since: set it again before the next statement.
      return rollback ? run.finally(() => (bound.currentMs = undefined)) : run;
    });
  };
}

/** Sets the budget's statement_timeout on `db` if what is left dropped by a second since it was set (no-op unbound). */
export async function refreshBudget(db: pg.Client): Promise<void> {
  const bound = BOUND.get(db);
  if (!bound) return;
  const want = Math.max(1, Math.floor(allowance(bound)));
  const limit = bound.configuredMs > 0 ? Math.min(bound.configuredMs, want) : want;
  const status = db.getTransactionStatus();
  // Out of the transaction it was set in, the value may have been rolled back: set it again.
  if (bound.setInTransaction && status === 'I') bound.currentMs = undefined;
  if (bound.currentMs !== undefined && limit >= bound.currentMs - 1000) return;
  bound.currentMs = limit;
  bound.setInTransaction = status !== 'I';
  // In a failed transaction the SET fails; the statement after it fails anyway, and the next one sets it again.
  await (bound.query(`SET statement_timeout = ${limit}`) as Promise<unknown>).catch(() => {
    bound.currentMs = undefined;
  });
}

/**
 * The error a statement cancelled by the budget's statement_timeout fails with: TaskBudgetExceededError naming the
 * step; undefined for any other error (a session's own statement_timeout stays a DatabaseError).
 */
export function budgetError(db: pg.Client, error: unknown, what: string): TaskBudgetExceededError | undefined {
  const bound = BOUND.get(db);
  if (!bound || (error as { code?: unknown } | null)?.code !== '57014') return undefined;
  const byBudget = bound.currentMs === undefined || bound.configuredMs === 0 || bound.currentMs < bound.configuredMs;
  if (!byBudget || allowance(bound) > 1000) return undefined;
  return new TaskBudgetExceededError(what, bound.budget.seconds, { cause: error });
}

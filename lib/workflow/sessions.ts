/** Opens the connections a task needs, sharing one between sink and state when they are the same database. */
import type { PipelineConfig } from '../config/index.ts';
import type { ConnectionRef } from '../connections/index.ts';
import { classifyDatabaseError } from '../connections/index.ts';
import { bindBudget, budgetMargin, budgetOf, type TaskBudget } from '../db/budget.ts';
import { close, type Db } from '../db/index.ts';
import type { TaskDeps } from './types.ts';

/** The connections of one task; `state === target` when the state lives in the sink database. */
export interface Sessions {
  readonly state: Db;
  readonly target?: Db;
  readonly source?: Db;
  /** Whether state and target are one connection, so one transaction can cover both. */
  readonly shared: boolean;
}

function refOf(c: ConnectionRef): ConnectionRef {
  return { connection_id: c.connection_id, connection_type: c.connection_type, connection_params: c.connection_params };
}

/** Whether the state lives in the sink's database (the same connection reference). */
export function stateSharesSink(config: PipelineConfig): boolean {
  return JSON.stringify(refOf(config.state)) === JSON.stringify(refOf(config.sink));
}

/**
 * The task's budget: the invocation's (deps.budget), tightened by the pipeline's `task_budget` counted from the
 * task's start; undefined when there is neither.
 */
export function taskBudget(deps: TaskDeps, taskBudgetMs: number | undefined): TaskBudget | undefined {
  if (taskBudgetMs === undefined) return deps.budget;
  if (!deps.budget) return budgetOf(taskBudgetMs / 1000);
  const started = deps.budget.deadline - deps.budget.seconds * 1000;
  if (started + taskBudgetMs >= deps.budget.deadline) return deps.budget;
  return { deadline: started + taskBudgetMs, marginMs: budgetMargin(taskBudgetMs), seconds: taskBudgetMs / 1000 };
}

/** Opens one connection for a task, bound to its time budget when it has one (the pipeline's `task_budget` tightens it). */
export async function connectFor(deps: TaskDeps, ref: ConnectionRef, options: { readOnly?: boolean }, taskBudgetMs?: number): Promise<Db> {
  const db = await deps.connect(ref, options);
  const budget = taskBudget(deps, taskBudgetMs);
  if (!budget) return db;
  try {
    await bindBudget(db, budget);
  } catch (error) {
    await close(db);
    throw classifyDatabaseError(error, 'setting the task budget');
  }
  return db;
}

/** Opens state (always), target and source (read-only) as asked, at once: a task waits for one connection set-up, not three. */
export async function openSessions(config: PipelineConfig, deps: TaskDeps, want: { source?: boolean; target?: boolean }): Promise<Sessions> {
  const shared = stateSharesSink(config);
  const opening = [
    connectFor(deps, refOf(config.state), {}, config.task_budget),
    want.target && !shared ? connectFor(deps, refOf(config.sink), {}, config.task_budget) : undefined,
    want.source ? connectFor(deps, refOf(config.source), { readOnly: true }, config.task_budget) : undefined,
  ];
  const settled = await Promise.allSettled(opening);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(settled.map((r) => (r.status === 'fulfilled' ? close(r.value) : undefined)));
    // The first failure in order state, target, source: the one a sequential open would have reported.
    throw failed.reason;
  }
  const [state, target, source] = settled.map((r) => (r as PromiseFulfilledResult<Db | undefined>).value) as [Db, Db | undefined, Db | undefined];
  return { state, target: want.target ? (shared ? state : target) : undefined, source, shared };
}

/** Opens one more connection to the sink's database (for work beside a task's own sessions). */
export function connectTarget(config: PipelineConfig, deps: TaskDeps): Promise<Db> {
  return connectFor(deps, refOf(config.sink), {}, config.task_budget);
}

/** Opens one more connection to the state database (the lease's heartbeat, beside a task's own sessions). */
export function connectState(config: PipelineConfig, deps: TaskDeps): Promise<Db> {
  return connectFor(deps, refOf(config.state), {}, config.task_budget);
}

/** Closes every connection of {@link openSessions}. */
export async function closeSessions(sessions: Sessions | undefined): Promise<void> {
  if (!sessions) return;
  const all = new Set([sessions.state, sessions.target, sessions.source].filter((d): d is Db => d !== undefined));
  await Promise.all([...all].map(close));
}

/** Opens sessions, runs `work`, always closes them. */
export async function withSessions<T>(
  config: PipelineConfig,
  deps: TaskDeps,
  want: { source?: boolean; target?: boolean },
  work: (sessions: Sessions) => Promise<T>,
): Promise<T> {
  const sessions = await openSessions(config, deps, want);
  try {
    return await work(sessions);
  } finally {
    await closeSessions(sessions);
  }
}

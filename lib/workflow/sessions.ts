/** Opens the connections a task needs, sharing one between sink and state when they are the same database. */
import type { PipelineConfig } from '../config/index.ts';
import type { ConnectionRef } from '../connections/index.ts';
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

/** Opens state (always), target and source (read-only) as asked. */
export async function openSessions(config: PipelineConfig, deps: TaskDeps, want: { source?: boolean; target?: boolean }): Promise<Sessions> {
  const opened: Db[] = [];
  try {
    const shared = stateSharesSink(config);
    const state = await deps.connect(refOf(config.state), {});
    opened.push(state);
    let target: Db | undefined;
    if (want.target) {
      target = shared ? state : await deps.connect(refOf(config.sink), {});
      if (!shared) opened.push(target);
    }
    let source: Db | undefined;
    if (want.source) {
      source = await deps.connect(refOf(config.source), { readOnly: true });
      opened.push(source);
    }
    return { state, target, source, shared };
  } catch (error) {
    await Promise.all(opened.map(close));
    throw error;
  }
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

/**
 * `pgferry check`: opens the source, the target and (when it is another database) the state read-only, and
 * reports their health and every privilege a run of the pipeline needs. Changes nothing.
 */
import type { PipelineConfig } from '../config/index.ts';
import { connectionLabel, describeConnection, openConnection, redact, resolveConnection, type ConnectionRef, type ResolveDeps } from '../connections/index.ts';
import { close, type Db } from '../db/index.ts';
import { ConnectionError } from '../errors.ts';
import { ident } from '../sql/quote.ts';
import { stateSharesSink } from '../workflow/sessions.ts';
import { probeHealth } from './catalog.ts';
import { checkSource, checkState, checkTarget, Findings, privilegeLine } from './requirements.ts';
import type { CheckReport, ConnectionHealth, Scope, SourceInfo, TargetInfo } from './types.ts';

export type * from './types.ts';
export { privilegeLine } from './requirements.ts';

/** An opened (or failed) connection of the check. */
interface Opened {
  readonly health: ConnectionHealth;
  readonly db?: Db;
}

/** Opens one connection read-only and measures it; a failure is reported, not thrown. */
async function open(scope: Scope, ref: ConnectionRef, deps: ResolveDeps, found: Findings): Promise<Opened> {
  let label = connectionLabel(ref);
  let database: string | undefined;
  try {
    const settings = await resolveConnection(ref, deps);
    label = describeConnection(settings);
    database = settings.database;
    const db = await openConnection(ref, { ...deps, readOnly: true });
    try {
      return { health: { connection: label, ok: true, ...(await probeHealth(db)) }, db };
    } catch (error) {
      await close(db);
      throw error;
    }
  } catch (error) {
    // Redacted now, after resolving registered the password: a URL id whose password has a space escapes redactUrl.
    label = redact(label);
    const named = { name: error instanceof Error ? error.name : 'Error', message: redact(error instanceof Error ? error.message : String(error)) };
    // Refused for want of CONNECT: that is a missing privilege like any other.
    if (error instanceof ConnectionError && error.code === '42501' && database !== undefined) {
      found.need(scope, 'CONNECT', `database ${ident(database)}`, false, 'to open a session');
    } else {
      found.problem(scope, `cannot connect (${label}): ${named.name}: ${named.message}`);
    }
    return { health: { connection: label, ok: false, error: named } };
  }
}

/** Checks a pipeline's connections and privileges; never throws for what it finds, only reports it. */
export async function checkPipeline(config: PipelineConfig, deps: ResolveDeps = {}): Promise<CheckReport> {
  const found = new Findings();
  const shared = stateSharesSink(config);
  const opened: Opened[] = [];
  try {
    const source = await open('source', config.source, deps, found);
    opened.push(source);
    const target = await open('target', config.sink, deps, found);
    opened.push(target);
    const state: Opened = shared
      ? { health: { connection: target.health.connection, ok: target.health.ok, sharedWith: 'target' }, ...(target.db ? { db: target.db } : {}) }
      : await open('state', config.state, deps, found);
    if (!shared) opened.push(state);

    let sourceInfo: SourceInfo | undefined;
    let targetInfo: TargetInfo | undefined;
    if (source.db) sourceInfo = await checkSource(source.db, config, source.health.serverVersionNum ?? 0, found);
    if (target.db) targetInfo = await checkTarget(target.db, config, target.health.serverVersionNum ?? 0, found);
    if (state.db) await checkState(state.db, config, (shared ? target : state).health.serverVersionNum ?? 0, shared, found);

    const order: Scope[] = ['source', 'target', 'state'];
    const byScope = (line: string): number => order.findIndex((scope) => line.startsWith(`${scope}: `));
    // Sorted by connection (a stable sort keeps the order they were found in within one).
    const missing = [...found.privileges.filter((p) => !p.granted).map(privilegeLine), ...found.problems].sort((a, b) => byScope(a) - byScope(b));
    return {
      pipeline: config.name,
      ok: missing.length === 0,
      connections: { source: source.health, target: target.health, state: state.health },
      ...(sourceInfo ? { source: sourceInfo } : {}),
      ...(targetInfo ? { target: targetInfo } : {}),
      privileges: found.privileges,
      missing: missing.map(redact),
      warnings: found.warnings.map(redact),
      notes: found.notes.map(redact),
    };
  } finally {
    await Promise.all(opened.map((o) => close(o.db)));
  }
}

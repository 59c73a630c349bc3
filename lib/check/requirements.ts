/**
 * What each connection's role must be allowed to do for a run, read from the catalog: the source (read the
 * table or plan the query), the target (schemas, the target table as its strategy uses it, staging) and the
 * state schema. Each finding goes to a {@link Findings}; nothing is changed.
 */
import type { PipelineConfig } from '../config/index.ts';
import { redact } from '../connections/index.ts';
import type { Db } from '../db/index.ts';
import { strategyFor, type TargetNeed } from '../sink/strategies/index.ts';
import { chunkRowsFor } from '../source/chunks.ts';
import { defaultChunkColumn } from '../source/describe.ts';
import { sourceSelect } from '../sql/extract.ts';
import { ident, qualified, type TableName } from '../sql/quote.ts';
import { STATE_RELATIONS } from '../state/sql.ts';
import { columnInfo, databasePrivileges, planRows, relationExists, schemaInfo, tableInfo, type TableInfo, type TablePrivilege } from './catalog.ts';
import type { Privilege, Scope, SourceInfo, TargetInfo } from './types.ts';

/** Collects privileges, problems, warnings and notes, in the order they are found. */
export class Findings {
  public readonly privileges: Privilege[] = [];
  /** Needed and not there, other than a privilege (a missing table, a query that does not plan...). */
  public readonly problems: string[] = [];
  public readonly warnings: string[] = [];
  public readonly notes: string[] = [];

  /** Records a privilege the run needs and whether it is granted. */
  public need(scope: Scope, privilege: string, on: string, granted: boolean, why: string): void {
    this.privileges.push({ scope, privilege, on, granted, why });
  }

  public problem(scope: Scope, text: string): void {
    this.problems.push(`${scope}: ${text}`);
  }

  public warn(scope: Scope, text: string): void {
    this.warnings.push(`${scope}: ${text}`);
  }

  public note(scope: Scope, text: string): void {
    this.notes.push(`${scope}: ${text}`);
  }
}

/** `<privilege> on <object>`, the way a missing privilege is listed. */
export function privilegeLine(p: Privilege): string {
  return `${p.scope}: ${p.privilege} on ${p.on}`;
}

const onTable = (table: TableName): string => `table ${qualified(table)}`;
const onSchema = (schema: string): string => `schema ${ident(schema)}`;

/** Records CONNECT on the session's database and returns its name and whether CREATE is granted on it. */
async function database(db: Db, scope: Scope, found: Findings): Promise<{ name: string; create: boolean }> {
  const privileges = await databasePrivileges(db);
  found.need(scope, 'CONNECT', `database ${ident(privileges.name)}`, privileges.connect, 'to open a session');
  return privileges;
}

/** The source: USAGE on the schema and SELECT on the table (or its extracted columns), or a query that plans; the cursor's index. */
export async function checkSource(db: Db, config: PipelineConfig, version: number, found: Findings): Promise<SourceInfo> {
  await database(db, 'source', found);
  const source = config.source;
  const options = source.options;
  const predicates = options.custom_predicate ? [options.custom_predicate] : [];
  if (!source.table) {
    let plan: number | undefined;
    try {
      plan = await planRows(db, sourceSelect(source, source.columns ?? '*', predicates));
      found.need('source', 'SELECT', 'the relations source.query reads', true, 'EXPLAIN of the extraction works');
    } catch (error) {
      const message = redact(error instanceof Error ? error.message : String(error));
      if ((error as { code?: unknown }).code === '42501') {
        // The server's own words name the relation: "permission denied for table x".
        const denied = error instanceof Error && error.cause instanceof Error ? redact(error.cause.message) : message;
        found.need('source', 'SELECT', `the relations source.query reads (${denied})`, false, 'to extract the rows');
      } else found.problem('source', `source.query${options.custom_predicate ? ' with source.options.custom_predicate' : ''} does not plan: ${message}`);
    }
    if (options.incremental_strategy === 'column') {
      found.note('source', `the cursor column ${ident(options.incremental_column ?? '')} of a query: whether a run can use an index depends on the query`);
    }
    return { kind: 'query', ...(plan !== undefined ? { planRows: plan } : {}) };
  }

  const table = source.table;
  const schema = await schemaInfo(db, table.schema);
  if (!schema.exists) {
    found.problem('source', `schema ${ident(table.schema)} does not exist`);
    return { kind: 'table', table: qualified(table), exists: false };
  }
  found.need('source', 'USAGE', onSchema(table.schema), schema.usage, 'to reach the table');
  const info = await tableInfo(db, table, version);
  if (!info) {
    found.problem('source', `${onTable(table)} does not exist`);
    return { kind: 'table', table: qualified(table), exists: false };
  }
  const readable = await checkSelect(db, table, info, config, found);
  const cursor = await checkCursor(db, table, info, config, found);
  if (options.chunk_column === undefined && !(await defaultChunkColumn(db, info.oid))) {
    const rows = info.estimatedRows === null ? 'rows unknown' : `about ${Math.round(info.estimatedRows).toLocaleString('en-US')} rows`;
    const note = `${onTable(table)} (${Math.round(info.sizeBytes / 1e6).toLocaleString('en-US')} MB, ${rows}) has no single-column primary key and no btree index that leads with a column: a run extracts it as one chunk, which must fit one task (15 minutes on AWS); set source.options.chunk_column to a column that orders its rows`;
    if (info.estimatedRows === null || info.estimatedRows > chunkRowsOf(options.chunk_rows, info)) found.warn('source', note);
    else found.note('source', note);
  }
  let plan: number | undefined;
  if (readable && schema.usage) {
    try {
      plan = await planRows(db, sourceSelect(source, source.columns ?? '*', predicates));
    } catch (error) {
      const message = redact(error instanceof Error ? error.message : String(error));
      found.problem('source', `the extraction${options.custom_predicate ? ' with source.options.custom_predicate' : ''} does not plan: ${message}`);
    }
  }
  if (info.estimatedRows === null) found.note('source', `${onTable(table)} was never analyzed: no row estimate (chunks are planned by counting rows)`);
  return {
    kind: 'table',
    table: qualified(table),
    exists: true,
    sizeBytes: info.sizeBytes,
    estimatedRows: info.estimatedRows,
    ...(plan !== undefined ? { planRows: plan } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

/** SELECT on the table, or, with a `columns` projection, on each column a run reads. Returns whether the extraction may read. */
async function checkSelect(db: Db, table: TableName, info: TableInfo, config: PipelineConfig, found: Findings): Promise<boolean> {
  const why = 'to extract the rows';
  const projection = config.source.columns;
  if (info.privileges.SELECT || projection === undefined) {
    found.need('source', 'SELECT', onTable(table), info.privileges.SELECT, why);
    return info.privileges.SELECT;
  }
  // Column privileges are enough when the file names the columns: the run reads only those (and the cursor and chunk columns).
  const { incremental_column: cursor, chunk_column: chunk } = config.source.options;
  const wanted = [...new Set([...projection, ...(cursor ? [cursor] : []), ...(chunk ? [chunk] : [])])];
  let all = true;
  for (const column of wanted) {
    const c = await columnInfo(db, info.oid, column);
    if (!c.exists) {
      found.problem('source', `${onTable(table)} has no column ${ident(column)}`);
      all = false;
      continue;
    }
    found.need('source', 'SELECT', `column ${ident(column)} of ${onTable(table)}`, c.select, why);
    all &&= c.select;
  }
  return all;
}

/**
 * Rows per chunk as the plan will choose them: `chunk_rows`, else the default for the table's row width (here its
 * size with indexes over its estimated rows, a little wider than the plan's measure: the warning errs early).
 */
function chunkRowsOf(chunkRows: number | undefined, info: TableInfo): number {
  return chunkRowsFor(chunkRows, info.estimatedRows ? info.sizeBytes / info.estimatedRows : undefined);
}

/** The cursor column exists and leads an index; a chunk column that leads none. */
async function checkCursor(db: Db, table: TableName, info: TableInfo, config: PipelineConfig, found: Findings): Promise<SourceInfo['cursor']> {
  const options = config.source.options;
  const chunk = options.chunk_column;
  if (chunk !== undefined) {
    const c = await columnInfo(db, info.oid, chunk);
    if (!c.exists) found.problem('source', `source.options.chunk_column: ${onTable(table)} has no column ${ident(chunk)}`);
    else if (!c.indexed && (info.estimatedRows === null || info.estimatedRows > chunkRowsOf(options.chunk_rows, info))) {
      found.warn('source', `chunk_column ${ident(chunk)} is not the leading column of an index on ${onTable(table)}: every chunk scans the table`);
    }
  }
  if (options.incremental_strategy === 'xmin') {
    found.note('source', `xmin: every run scans the whole table (xmin has no index)`);
    return { strategy: 'xmin' };
  }
  if (options.incremental_strategy !== 'column' || options.incremental_column === undefined) return undefined;
  const column = options.incremental_column;
  const c = await columnInfo(db, info.oid, column);
  if (!c.exists) found.problem('source', `source.options.incremental_column: ${onTable(table)} has no column ${ident(column)}`);
  else if (!c.indexed)
    found.warn('source', `incremental_column ${ident(column)} is not the leading column of an index on ${onTable(table)}: every run scans the table`);
  return { strategy: 'column', column, exists: c.exists, ...(c.exists ? { indexed: c.indexed } : {}) };
}

/** What the strategy does with a privilege, for the report. */
const WHY: Record<TargetNeed, string> = {
  SELECT: 'to read the target (row counts, key matches)',
  INSERT: 'to load the staged rows',
  UPDATE: 'to update rows with upsert',
  DELETE: 'to delete the rows being replaced',
  TRUNCATE: 'to empty the target (truncate_insert)',
  ownership: 'to replace the table (swap by rename, ALTER TABLE)',
};

/** The target: its schema and table as the strategy uses them, and the staging schema. */
export async function checkTarget(db: Db, config: PipelineConfig, version: number, found: Findings): Promise<TargetInfo> {
  const db$ = await database(db, 'target', found);
  const strategy = strategyFor(config);
  // Swaps move the staged (or shadow) table into the target's schema by ALTER TABLE ... SET SCHEMA.
  const swapsIn = strategy.replacesTarget === true;
  const table = config.sink.table;
  const schema = await schemaInfo(db, table.schema);
  let info: TableInfo | undefined;
  if (!schema.exists) {
    found.problem('target', `schema ${ident(table.schema)} does not exist (a run creates the target table, not its schema)`);
  } else {
    found.need('target', 'USAGE', onSchema(table.schema), schema.usage, 'to reach the target table');
    info = await tableInfo(db, table, version);
    const stagingElsewhere = config.sink.staging.schema !== table.schema;
    if (!info) {
      if (!config.sink.create_table) found.problem('target', `${onTable(table)} does not exist and sink.create_table is false`);
      else
        found.need(
          'target',
          'CREATE',
          onSchema(table.schema),
          schema.create,
          swapsIn && stagingElsewhere ? 'to move the new table into place' : 'to create the target table (create_table)',
        );
    } else {
      for (const need of strategy.needs(config, { partitioned: info.relkind === 'p' })) {
        if (need === 'ownership') found.need('target', 'ownership', `${onTable(table)} (owner ${ident(info.owner)})`, info.owns, WHY.ownership);
        else found.need('target', need, onTable(table), info.privileges[need], WHY[need]);
      }
      if (swapsIn && stagingElsewhere) found.need('target', 'CREATE', onSchema(table.schema), schema.create, 'to move the new table into place');
      const condition = strategy.targetCondition?.(config);
      if (condition && info.privileges.SELECT && schema.usage) {
        // Raw SQL that runs against the target: make sure it plans there.
        try {
          await planRows(db, `SELECT 1 FROM ${qualified(table)} WHERE (${condition.sql})`);
        } catch (error) {
          found.problem('target', `${condition.key} does not plan on ${onTable(table)}: ${redact(error instanceof Error ? error.message : String(error))}`);
        }
      }
    }
  }
  const staging = config.sink.staging.schema;
  const stagingSchema = await schemaInfo(db, staging);
  if (stagingSchema.exists) {
    found.need('target', 'USAGE', onSchema(staging), stagingSchema.usage, 'to load the staging tables');
    found.need('target', 'CREATE', onSchema(staging), stagingSchema.create, "to create each run's staging tables");
  } else {
    found.need('target', 'CREATE', `database ${ident(db$.name)}`, db$.create, `to create the staging schema ${ident(staging)}`);
  }
  return {
    table: qualified(table),
    exists: info !== undefined,
    ...(info ? { owner: info.owner, sizeBytes: info.sizeBytes, estimatedRows: info.estimatedRows } : {}),
  };
}

/** The state schema's index (the one state relation that is not a table). */
const STATE_INDEX = STATE_RELATIONS[3];

/** Table privileges each state table needs (see the builders re-exported by lib/state/sql.ts). */
const STATE_TABLES: Record<'pipeline_state' | 'runs' | 'run_chunks', TablePrivilege[]> = {
  pipeline_state: ['SELECT', 'INSERT', 'UPDATE'],
  runs: ['SELECT', 'INSERT', 'UPDATE'],
  run_chunks: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
};

/** The state schema: CREATE on the database while it does not exist, else USAGE on it and the state tables' privileges. */
export async function checkState(db: Db, config: PipelineConfig, version: number, shared: boolean, found: Findings): Promise<void> {
  const db$ = shared ? { ...(await databasePrivileges(db)) } : await database(db, 'state', found);
  const schema = config.state.schema;
  const info = await schemaInfo(db, schema);
  if (!info.exists) {
    found.need('state', 'CREATE', `database ${ident(db$.name)}`, db$.create, `to create the state schema ${ident(schema)} on the first run`);
    return;
  }
  found.need('state', 'USAGE', onSchema(schema), info.usage, 'to reach the state tables');
  let complete = true;
  let runs: TableInfo | undefined;
  for (const [name, privileges] of Object.entries(STATE_TABLES)) {
    const table = { schema, name };
    const t = await tableInfo(db, table, version);
    if (name === 'runs') runs = t;
    if (!t) {
      complete = false;
      continue;
    }
    for (const privilege of privileges) found.need('state', privilege, onTable(table), t.privileges[privilege], 'to keep the cursor, the lease and the runs');
  }
  // Once every state relation exists a run leaves the schema alone (lib/state/schema.ts ensureStateSchema).
  const index = await relationExists(db, schema, STATE_INDEX);
  if (!complete || !index) found.need('state', 'CREATE', onSchema(schema), info.create, 'to create the missing state tables');
  if (runs && !index)
    found.need(
      'state',
      'ownership',
      `${onTable({ schema, name: 'runs' })} (owner ${ident(runs.owner)})`,
      runs.owns,
      `to create the index ${ident(STATE_INDEX)}`,
    );
}

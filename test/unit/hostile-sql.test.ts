/**
 * Every SQL builder quotes the names it is given: each one is called with names that
 * would end the statement and drop a table if they were pasted unquoted, and the text it returns is lexed
 * to prove the payload only ever appears inside a correctly escaped "identifier" or 'literal'.
 */
import { describe, expect, it } from 'vitest';
import * as ddl from '../../lib/sql/ddl.ts';
import * as deferred from '../../lib/sql/deferred-indexes.ts';
import * as definitionText from '../../lib/sql/definition-text.ts';
import * as exchange from '../../lib/sql/exchange.ts';
import * as prebuild from '../../lib/sql/exchange-prebuild.ts';
import * as extract from '../../lib/sql/extract.ts';
import * as indexes from '../../lib/sql/indexes.ts';
import * as load from '../../lib/sql/load.ts';
import * as merge from '../../lib/sql/merge.ts';
import * as partition from '../../lib/sql/partition.ts';
import { ident, qualified, type TableName } from '../../lib/sql/quote.ts';
import * as shadow from '../../lib/sql/shadow-swap.ts';
import * as tables from '../../lib/sql/tables.ts';
import type { TargetCatalog } from '../../lib/sql/target-catalog.ts';
import * as state from '../../lib/state/sql.ts';
import { exactPattern, formatTableName, parseTablePattern, type TablePattern } from '../../lib/config/table-name.ts';
import type { RunPlan } from '../../lib/state/types.ts';
import type { ColumnSpec } from '../../lib/sql/types.ts';

const PAYLOAD = `; DROP TABLE canary;--`;
/** A name holding both quote characters: an unescaped `"` or `'` lets the payload out, whichever context it lands in. */
const hostile = (label: string): string => `${label} "q" 'a' /*${PAYLOAD}`;

const N = {
  schema: hostile('Weird "T"'),
  table: hostile('T'),
  stagingSchema: hostile('stg'),
  staging: hostile('staged'),
  done: hostile('done'),
  key: hostile('key'),
  key2: hostile('select'),
  cursor: hostile('cur'),
  other: hostile('user'),
  owner: hostile('owner'),
  grantee: hostile('grantee'),
  index: hostile('idx'),
  constraint: hostile('con'),
  trigger: hostile('trg'),
  tablespace: hostile('tbs'),
  sequence: hostile('seq'),
  stats: hostile('stx'),
  collation: hostile('coll'),
  values: hostile('vals'),
  leaf: hostile('leaf'),
  parent: hostile('parent'),
  stateSchema: hostile('state'),
  pipeline: hostile('pipeline'),
  runId: hostile('run'),
  comment: hostile("it's a comment"),
  check: hostile('check'),
  notNull: hostile('nn'),
  foreignKey: hostile('fk'),
  serial: hostile('serial'),
  leafKey: hostile('leafkey'),
  bound: hostile('bound value'),
} as const;
const NAMES = Object.values(N);

const target: TableName = { schema: N.schema, name: N.table };
const staging: TableName = { schema: N.stagingSchema, name: N.staging };
const done: TableName = { schema: N.stagingSchema, name: N.done };
const columns: ColumnSpec[] = [
  { name: N.key, type: 'bigint' },
  { name: N.key2, type: 'text' },
  { name: N.cursor, type: 'timestamp with time zone' },
  { name: N.other, type: 'numeric(12,2)' },
];
const keys = [
  { name: N.key, notNull: true },
  { name: N.key2, notNull: false },
];

/** What a SQL text is made of: code, "identifiers" and 'literals' (decoded). Comments and dollar quotes fail. */
function lex(sql: string): { code: string; idents: string[]; strings: string[] } {
  let code = '';
  const idents: string[] = [];
  const strings: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i] as string;
    if (ch === '"' || ch === "'") {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) throw new Error(`unterminated ${ch} in ${sql}`);
        if (sql[j] === ch) {
          if (sql[j + 1] === ch) {
            value += ch;
            j += 2;
            continue;
          }
          break;
        }
        value += sql[j];
        j += 1;
      }
      (ch === '"' ? idents : strings).push(value);
      code += ch === '"' ? '"_"' : "'_'";
      i = j + 1;
    } else {
      code += ch;
      i += 1;
    }
  }
  return { code, idents, strings };
}

/** Passes when the payload stays inside quotes: every quoted part holding it is a whole hostile name (or a name built on one). */
function expectQuoted(sql: string): void {
  const { code, idents, strings } = lex(sql);
  expect(code, sql).not.toMatch(/canary|--|\/\*|;|\$\$/);
  for (const value of idents.filter((v) => v.includes('canary'))) {
    expect(
      NAMES.some((name) => value.startsWith(name)),
      `identifier ${JSON.stringify(value)} in ${sql}`,
    ).toBe(true);
  }
  for (const value of strings.filter((v) => v.includes('canary'))) {
    // A literal may hold a name as text ('it''s') or as a quoted identifier (regclass text: '"s"."t"').
    expect(
      NAMES.some((name) => value.includes(name) || value.includes(ident(name))),
      `literal ${JSON.stringify(value)} in ${sql}`,
    ).toBe(true);
  }
}

/** A target catalog with a hostile name wherever the catalog holds one; definitions as pg_get_*def would print them. */
function catalog(): TargetCatalog {
  const T = qualified(target);
  return {
    table: target,
    relkind: 'r',
    partitioned: false,
    inherits: [],
    inheritedBy: [],
    owner: N.owner,
    unlogged: false,
    options: [{ name: 'fillfactor', value: "90'; --" }],
    replicaIdentity: 'index',
    replicaIdentityIndex: N.constraint,
    clusterIndex: N.index,
    rowSecurity: false,
    forceRowSecurity: false,
    policies: [],
    comment: N.comment,
    columns: [
      {
        name: N.key,
        type: 'bigint',
        notNull: true,
        comment: N.comment,
        grants: [{ grantee: N.grantee, privilege: 'UPDATE', grantable: true }],
        identity: {
          generation: 'ALWAYS',
          sequence: { schema: N.schema, name: N.sequence },
          start: '1',
          increment: '1',
          min: '1',
          max: '9223372036854775807',
          cache: '1',
          cycle: false,
        },
      },
      { name: N.key2, type: 'text', notNull: false, collation: { schema: N.schema, name: N.collation }, statistics: 500, default: `'x'::text`, grants: [] },
      { name: N.cursor, type: 'timestamp with time zone', notNull: true, grants: [] },
      { name: N.other, type: 'numeric(12,2)', notNull: false, grants: [] },
    ],
    constraints: [
      {
        name: N.constraint,
        kind: 'primary key',
        definition: `PRIMARY KEY (${ident(N.key)})`,
        comment: N.comment,
        indexComment: N.comment,
        index: {
          definition: `CREATE UNIQUE INDEX ${ident(N.constraint)} ON ${T} USING btree (${ident(N.key)}) WITH (fillfactor='80')`,
          tablespace: N.tablespace,
        },
      },
      {
        name: N.leafKey,
        kind: 'exclude',
        definition: `EXCLUDE USING gist (${ident(N.key2)} WITH &&) WHERE ((${ident(N.other)} > 0))`,
        index: {
          definition: `CREATE INDEX ${ident(N.leafKey)} ON ${T} USING gist (${ident(N.key2)}) WHERE ((${ident(N.other)} > 0))`,
          tablespace: N.tablespace,
        },
      },
      { name: N.check, kind: 'check', definition: `CHECK ((${ident(N.other)} > (0)::numeric))` },
      { name: N.notNull, kind: 'not null', definition: `NOT NULL ${ident(N.cursor)}`, column: N.cursor },
      { name: N.foreignKey, kind: 'foreign key', definition: `FOREIGN KEY (${ident(N.key)}) REFERENCES ${T}(${ident(N.key)})`, selfReference: true },
    ],
    indexes: [
      {
        name: N.index,
        definition: `CREATE INDEX ${ident(N.index)} ON ${T} USING btree (${ident(N.cursor)}) WHERE (${ident(N.key2)} <> ' USING '::text)`,
        tablespace: N.tablespace,
        comment: N.comment,
      },
    ],
    triggers: [
      {
        name: N.trigger,
        definition: `CREATE TRIGGER ${ident(N.trigger)} BEFORE INSERT ON ${T} FOR EACH ROW EXECUTE FUNCTION ${qualified({ schema: N.schema, name: 'fn' })}()`,
        enabled: 'D',
        comment: N.comment,
      },
    ],
    statistics: [
      {
        name: { schema: N.schema, name: N.stats },
        owner: N.owner,
        kinds: ['ndistinct'],
        columns: `${ident(N.key)}, ${ident(N.key2)}`,
        target: 100,
        comment: N.comment,
      },
    ],
    grants: [
      { grantee: N.owner, privilege: 'SELECT', grantable: false },
      { grantee: N.grantee, privilege: 'INSERT', grantable: false },
      { grantee: null, privilege: 'SELECT', grantable: false },
    ],
    ownedSequences: [{ sequence: { schema: N.schema, name: N.serial }, column: N.other }],
    dependentViews: [],
    referencingForeignKeys: [],
    publications: [],
    rules: [],
    otherDependents: [],
  };
}

const leaf: partition.LeafPartition = {
  oid: '16384',
  table: { schema: N.schema, name: N.leaf },
  parent: { schema: N.schema, name: N.parent },
  bound: `FOR VALUES IN ('a''b')`,
  constraint: `((${ident(N.key2)} IS NOT NULL) AND (${ident(N.key2)} = 'a''b'::text))`,
  owner: N.owner,
  unlogged: true,
  tablespace: N.tablespace,
  options: [{ name: 'toast.autovacuum_enabled', value: "off'; --" }],
  comment: N.comment,
  grants: [{ grantee: N.grantee, privilege: 'SELECT', grantable: true }],
  indexes: [
    {
      name: N.index,
      definition: `CREATE INDEX ${ident(N.index)} ON ${qualified({ schema: N.schema, name: N.leaf })} USING btree (${ident(N.key)})`,
      tablespace: N.tablespace,
    },
    {
      name: N.leafKey,
      definition: `CREATE UNIQUE INDEX ${ident(N.leafKey)} ON ${qualified({ schema: N.schema, name: N.leaf })} USING btree (${ident(N.key)}, ${ident(N.key2)})`,
      tablespace: N.tablespace,
      constraint: {
        name: N.constraint,
        kind: 'primary key',
        definition: `PRIMARY KEY (${ident(N.key)}, ${ident(N.key2)})`,
        deferrable: false,
        deferred: false,
      },
    },
  ],
};

const partitionColumn: partition.PartitionColumn = { name: N.key2, type: 'text', cast: true };
const values: TableName = { schema: N.stagingSchema, name: N.values };
const overlap: merge.AppendOverlap = { cursor: { name: N.cursor, type: 'timestamp with time zone' }, before: N.bound, lower: `${N.bound} 0` };

const deferredIndexes: deferred.DeferredIndex[] = [
  {
    name: N.constraint,
    definition: `CREATE UNIQUE INDEX ${ident(N.constraint)} ON ${qualified(target)} USING btree (${ident(N.key)})`,
    tablespace: N.tablespace,
    comment: N.comment,
    constraint: { kind: 'primary key', definition: `PRIMARY KEY (${ident(N.key)})`, deferrable: false, deferred: false, comment: N.comment },
    replicaIdentity: true,
    clustered: false,
  },
  {
    name: N.index,
    definition: `CREATE INDEX ${ident(N.index)} ON ${qualified(target)} USING btree (${ident(N.cursor)})`,
    tablespace: N.tablespace,
    comment: N.comment,
    replicaIdentity: false,
    clustered: true,
  },
];

/** One case per builder: its name as `module.export`, and the statements it returns for hostile names. */
const BUILDERS: Record<string, () => string | readonly string[]> = {
  'ddl.createTableSql': () => ddl.createTableSql(target, columns, { unlogged: true }),
  'ddl.createStagingSql': () => [
    ...ddl.createStagingSql(staging, done, columns, { pipeline: N.pipeline, runId: N.runId, logged: false }),
    ...ddl.createStagingSql(staging, done, columns, { pipeline: N.pipeline, runId: N.runId, logged: true, schemaExists: true }),
    ...ddl.createStagingSql(staging, done, columns, {
      pipeline: N.pipeline,
      runId: N.runId,
      logged: true,
      schemaExists: true,
      notNull: [{ column: N.key, name: N.constraint }, { column: N.key2 }],
    }),
  ],
  'ddl.dropStagingSql': () => ddl.dropStagingSql(staging, done),
  'extract.sourceFrom': () => extract.sourceFrom({ table: target }),
  'extract.sourceSelect': () =>
    extract.sourceSelect(
      { table: target },
      columns.map((c) => c.name),
      [`${ident(N.key)} > 0`],
      [`1 AS ${ident(N.other)}`],
    ),
  'extract.chunkPredicate': () => extract.chunkPredicate({ name: N.key, type: 'text' }, { lower: N.bound, upper: `${N.bound} z` }) ?? '',
  'extract.copyToSql': () => extract.copyToSql(extract.sourceSelect({ table: target }, '*')),
  'extract.copyFromSql': () =>
    extract.copyFromSql(
      staging,
      columns.map((c) => c.name),
    ),
  'load.truncateInsertSql': () => load.truncateInsertSql(target, staging, columns),
  'load.insertAllSql': () => load.insertAllSql(target, staging, columns),
  'load.lockExclusiveSql': () => load.lockExclusiveSql(target),
  'load.analyzeStagingSql': () => load.analyzeStagingSql(staging),
  'merge.keyMatch': () => merge.keyMatch(keys, 't', 's'),
  'merge.notExistsKeySql': () => [merge.notExistsKeySql(keys, target, 's', 't'), merge.notExistsKeySql([keys[0] as merge.KeyColumn], staging, 't', 's')],
  'merge.findDuplicateKeySql': () => merge.findDuplicateKeySql(staging, [N.key, N.key2]),
  'merge.keepLastSql': () => merge.keepLastSql(staging, [N.key, N.key2], { cursor: N.cursor, xmin: true }),
  'merge.deleteInsertSql': () => merge.deleteInsertSql(target, staging, columns, keys),
  'merge.upsertSql': () => merge.upsertSql(target, staging, columns, [N.key]),
  'merge.replaceInPlaceSql': () => [
    merge.replaceInPlaceSql(target, staging, columns, [N.key], [N.other], { returningOld: true }),
    merge.replaceInPlaceSql(target, staging, columns, [N.key], [], { returningOld: false }),
  ],
  'merge.insertNewKeysSql': () => merge.insertNewKeysSql(target, staging, columns, keys),
  'merge.appendSql': () => [
    merge.appendSql(target, staging, columns, new Map([[N.other, 'numeric(14,2)']]), overlap, undefined),
    merge.appendSql(target, staging, columns, new Map(), overlap, keys),
    merge.appendSql(target, staging, columns, new Map(), undefined, undefined),
  ],
  'merge.replaceSql': () => merge.replaceSql(target, staging, columns, `${ident(N.key2)} = 'x'`),
  'merge.uniqueKeyIndexSql': () => merge.uniqueKeyIndexSql(target, [N.key, N.key2], true),
  'exchange.guardLockSql': () => exchange.guardLockSql(target),
  'exchange.clearStagingCommentSql': () => exchange.clearStagingCommentSql(staging),
  'exchange.exchangeStatements': () => {
    const { prepare, swap } = exchange.exchangeStatements(catalog(), target, staging, exchange.exchangeTempPrefix(staging));
    const bare = exchange.exchangeStatements(undefined, target, staging, exchange.exchangeTempPrefix(staging));
    const staged = exchange.exchangeStatements(catalog(), target, staging, exchange.exchangeTempPrefix(staging), [
      { column: N.key, name: N.constraint },
      { column: N.other },
    ]);
    return [...prepare, ...swap, ...bare.prepare, ...bare.swap, ...staged.prepare];
  },
  'prebuild.prebuildSql': () => {
    const prefix = exchange.exchangeTempPrefix(staging);
    const { prebuildable } = exchange.exchangeStatements(
      { ...catalog(), columns: catalog().columns.map((c) => ({ ...c, collation: undefined })) },
      target,
      staging,
      prefix,
    );
    expect(prebuildable.length).toBeGreaterThan(0);
    return prebuildable.map((build) => prebuild.prebuildSql(prefix, build));
  },
  'prebuild.adoptPrebuilt': () => {
    const prefix = exchange.exchangeTempPrefix(staging);
    const statements = exchange.exchangeStatements(
      { ...catalog(), columns: catalog().columns.map((c) => ({ ...c, collation: undefined })) },
      target,
      staging,
      prefix,
    );
    const built = statements.prebuildable.map((build) => prebuild.prebuiltIndexName(prefix, build));
    return prebuild.adoptPrebuilt(statements, prefix, staging, [...built.slice(1), `${prefix}_pstale`]);
  },
  'indexes.indexOn': () =>
    indexes.indexOn(
      {
        name: N.index,
        definition: `CREATE UNIQUE INDEX ${ident(N.index)} ON ${qualified(target)} USING btree (${ident(N.key)}) WHERE (${ident(N.key2)} <> ' USING '::text)`,
        tablespace: N.tablespace,
      },
      N.index,
      staging,
      'test',
    ),
  'definitionText.retarget': () =>
    definitionText.retarget(`CREATE TRIGGER ${ident(N.trigger)} AFTER UPDATE ON ${qualified(target)} FOR EACH ROW EXECUTE FUNCTION f()`, ' ON ', staging),
  'indexes.constraintWithIndexSql': () => [
    ...indexes.constraintWithIndexSql(
      { name: N.index, definition: `CREATE UNIQUE INDEX ${ident(N.index)} ON ${qualified(target)} USING btree (${ident(N.key)})`, tablespace: N.tablespace },
      { kind: 'unique', definition: `UNIQUE (${ident(N.key)})`, deferrable: true, deferred: true },
      N.constraint,
      staging,
      'test',
    ),
    ...indexes.constraintWithIndexSql(
      { name: N.index, definition: 'unused', tablespace: N.tablespace },
      { kind: 'exclude', definition: `EXCLUDE USING gist (${ident(N.key2)} WITH &&) WHERE ((${ident(N.other)} > 0))`, deferrable: false, deferred: false },
      N.constraint,
      staging,
      'test',
    ),
  ],
  'deferred.dropIndexesSql': () => deferred.dropIndexesSql(target, deferredIndexes),
  'deferred.rebuildIndexesSql': () => deferred.rebuildIndexesSql(target, deferredIndexes),
  'deferred.maintenanceWorkMemSql': () => deferred.maintenanceWorkMemSql(256 * 1024 * 1024),
  'deferred.deferredLoadSql': () => {
    const { before, after } = deferred.deferredLoadSql(target, deferredIndexes);
    return [...before, ...after];
  },
  'shadow.createShadowSql': () => shadow.createShadowSql(shadow.shadowTable(staging), columns, { unlogged: true }),
  'shadow.notStagedSql': () => [shadow.notStagedSql(keys, staging), shadow.notStagedSql([keys[0] as shadow.ShadowKey], staging)],
  'shadow.keepTargetRowsSql': () => shadow.keepTargetRowsSql(staging, target, done, columns, keys),
  'shadow.insertStagedSql': () => shadow.insertStagedSql(done, staging, columns),
  'shadow.shadowLockSql': () => shadow.shadowLockSql(target),
  'partition.stagedSource': () => [
    partition.stagedSource(staging, columns, partitionColumn),
    partition.stagedSource(staging, columns, { ...partitionColumn, cast: false }),
  ],
  'partition.distinctValuesSql': () => partition.distinctValuesSql(staging, N.key2),
  'partition.partitionLockSql': () => partition.partitionLockSql(target),
  'partition.dropValuesTableSql': () => partition.dropValuesTableSql(staging),
  'partition.fallbackSql': () => {
    const sql = partition.fallbackSql(target, staging, columns, N.key2, { hasNull: true });
    return [...sql.delete, sql.insert];
  },
  'partition.valuesTableSql': () => partition.valuesTableSql(values, staging, partitionColumn, { index: true }),
  'partition.leavesHoldingSql': () => partition.leavesHoldingSql(values, [{ oid: leaf.oid, constraint: leaf.constraint }], [leaf.constraint]),
  'partition.valuesOutsideSql': () => partition.valuesOutsideSql(values, N.key2, [leaf.constraint]),
  'partition.leafStatements': () => {
    const names = partition.leafTempNames(partition.partitionTempPrefix(staging), 1, leaf);
    const sql = partition.leafStatements(leaf, names, partition.stagedSource(staging, columns, partitionColumn), columns);
    return [...sql.create, sql.insert, ...sql.build, ...sql.swap];
  },
  'partition.byValueSql': () => {
    const sql = partition.byValueSql(
      target,
      [leaf.table],
      values,
      N.key2,
      [leaf.constraint],
      partition.stagedSource(staging, columns, partitionColumn),
      columns,
      { hasNull: true },
    );
    return [...sql.delete, sql.insert];
  },
  'tables.listSourceTablesSql': () => {
    const pattern = parseTablePattern(`${formatTableName(target)}*`) as TablePattern;
    const built = tables.listSourceTablesSql([pattern, exactPattern(target)]);
    // The patterns travel as parameters (as LIKE forms, unchanged: the names hold no backslash, % or _), never in the text.
    expect(built.values).toEqual([
      [N.schema, N.schema],
      [`${N.table}%`, N.table],
    ]);
    return built.text;
  },
  'state.stateTable': () => state.stateTable(N.stateSchema, 'runs'),
  'state.stateSchemaSql': () => [...state.stateSchemaSql(N.stateSchema), ...state.stateSchemaSql(N.stateSchema, { createSchema: false })],
  'state.stateReadySql': () => state.stateReadySql(N.stateSchema).text,
  'state.acquireLeaseSql': () => state.acquireLeaseSql(N.stateSchema, N.pipeline, N.runId).text,
  'state.renewLeaseSql': () => state.renewLeaseSql(N.stateSchema, N.pipeline, N.runId).text,
  'state.fenceSql': () => state.fenceSql(N.stateSchema, N.pipeline, N.runId).text,
  'state.completeRunSql': () =>
    state
      .completeRunSql(N.stateSchema, {
        pipeline: N.pipeline,
        runId: N.runId,
        outcome: { rowsExtracted: 1, rowsInserted: 1, rowsDeleted: 0, bytes: 1, cursorAfter: N.bound },
      })
      .map((s) => s.text),
  'state.leaseLockTimeoutSql': () => state.leaseLockTimeoutSql().text,
  'state.leaseHolderSql': () => state.leaseHolderSql(N.stateSchema, N.pipeline).text,
  'state.releaseLeaseSql': () => state.releaseLeaseSql(N.stateSchema, N.pipeline, N.runId).text,
  'state.unlockSql': () => state.unlockSql(N.stateSchema, N.pipeline).text,
  'state.pipelineStateSql': () => state.pipelineStateSql(N.stateSchema, N.pipeline).text,
  'state.stateTableExistsSql': () => state.stateTableExistsSql(N.stateSchema).text,
  'state.tableKeysSql': () => state.tableKeysSql(N.stateSchema, N.pipeline).text,
  'state.runErrorsSql': () => state.runErrorsSql(N.stateSchema, [N.runId]).text,
  'state.tableStatesSql': () => state.tableStatesSql(N.stateSchema, N.pipeline).text,
  'state.moveCursorSql': () => state.moveCursorSql(N.stateSchema, { pipeline: N.pipeline, runId: N.runId, cursorAfter: N.bound }).text,
  'state.resetCursorSql': () => state.resetCursorSql(N.stateSchema, N.pipeline).text,
  'state.importCursorSql': () => state.importCursorSql(N.stateSchema, N.pipeline, N.bound).text,
  'state.recordRunSql': () =>
    state.recordRunSql(N.stateSchema, {
      runId: N.runId,
      pipeline: N.pipeline,
      mode: 'incremental',
      strategy: 'append',
      fullRefresh: false,
      windowBounds: null,
      cursorBefore: null,
      plan: {
        columns,
        staging: { schema: N.stagingSchema, name: N.staging, doneName: N.done },
        targetExists: true,
        window: { strategy: 'none' },
      } as unknown as RunPlan,
      chunks: [{ lower: N.bound, upper: null }],
    }).text,
  'state.runSql': () => state.runSql(N.stateSchema, N.runId).text,
  'state.listRunsSql': () => state.listRunsSql(N.stateSchema, N.pipeline, 10).text,
  'state.markRunSucceededSql': () =>
    state.markRunSucceededSql(N.stateSchema, {
      pipeline: N.pipeline,
      runId: N.runId,
      outcome: { rowsExtracted: 1, rowsInserted: 1, rowsDeleted: 0, bytes: 1, cursorAfter: N.bound },
    }).text,
  'state.recordFailedRunSql': () =>
    state.recordFailedRunSql(N.stateSchema, { pipeline: N.pipeline, runId: N.runId, error: { name: 'Error', message: N.comment }, status: 'failed' }).text,
  'state.failRunningRunSql': () => state.failRunningRunSql(N.stateSchema, N.runId, { name: 'LeaseLostError', message: N.comment }).text,
  'state.deleteChunksSql': () => state.deleteChunksSql(N.stateSchema, N.runId).text,
  'state.insertChunksSql': () => state.insertChunksSql(N.stateSchema, N.runId, [{ lower: N.bound, upper: null }]).text,
  'state.chunkBoundsSql': () => state.chunkBoundsSql(N.stateSchema, N.runId, 0).text,
  'state.recordChunkSql': () => state.recordChunkSql(N.stateSchema, { runId: N.runId, chunk: 0, rows: 1, bytes: 1 }).text,
  'state.recordChunkErrorSql': () => state.recordChunkErrorSql(N.stateSchema, { runId: N.runId, chunk: 0, error: { name: 'Error', message: N.comment } }).text,
  'state.lastChunkErrorSql': () => state.lastChunkErrorSql(N.stateSchema, N.runId).text,
};

/** Exports that return names or parse SQL rather than build statements. */
const NOT_BUILDERS = new Set([
  'ddl.stagingCommentPrefix',
  'definitionText.findOutsideQuotes',
  'exchange.exchangeTempPrefix',
  'exchange.isPlainNotNull',
  'exchange.stagedNotNullFor',
  'prebuild.prebuiltIndexName',
  'shadow.shadowTable',
  'partition.partitionTempPrefix',
  'partition.valuesTable',
  'partition.leafTempNames',
]);

const MODULES: Record<string, Record<string, unknown>> = {
  ddl,
  deferred,
  definitionText,
  extract,
  indexes,
  load,
  merge,
  exchange,
  prebuild,
  shadow,
  partition,
  tables,
  state,
};

describe('Feature: SQL builders quote hostile names', () => {
  it.each(Object.keys(BUILDERS))('%s', (builder) => {
    const built = BUILDERS[builder]?.() ?? [];
    const statements = typeof built === 'string' ? [built] : built;
    expect(statements.length).toBeGreaterThan(0);
    for (const sql of statements) expectQuoted(sql);
  });

  it('covers every exported function of lib/sql (and lib/state/sql.ts): a new builder needs a case here', () => {
    const exported = Object.entries(MODULES).flatMap(([module, exports]) =>
      Object.entries(exports)
        .filter(([, value]) => typeof value === 'function')
        .map(([name, fn]) => ({ name: `${module}.${name}`, fn })),
    );
    const fnOf = (name: string): unknown => {
      const [module = '', fn = ''] = name.split('.');
      return MODULES[module]?.[fn];
    };
    // A re-export (the same function under another name) is covered by its original's case.
    const covered = new Set([...Object.keys(BUILDERS), ...NOT_BUILDERS].map(fnOf));
    expect(exported.filter(({ fn }) => !covered.has(fn)).map(({ name }) => name)).toEqual([]);
    expect(Object.keys(BUILDERS).filter((name) => typeof fnOf(name) !== 'function')).toEqual([]);
  });

  it('the check itself catches a name pasted unquoted or quoted without escaping', () => {
    expect(() => expectQuoted(`DROP TABLE ${N.table}`)).toThrow();
    expect(() => expectQuoted(`DROP TABLE "${N.table}"`)).toThrow();
    expect(() => expectQuoted(`COMMENT ON TABLE t IS '${N.table}'`)).toThrow();
    expect(() => expectQuoted(`DROP TABLE ${ident(N.table)}`)).not.toThrow();
  });
});

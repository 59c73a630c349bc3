/**
 * SQL text of "replace table T by table S, keeping T's name and attachments": `exchange` (S is the staging
 * table) and later `shadow_swap`. Pure functions, so `pgferry plan` prints the statements and tests read them.
 * Everything is built on S under temporary names first; only the swap needs T's exclusive lock.
 */
import { createHash } from 'node:crypto';
import { InternalError } from '../errors.ts';
import { MAX_IDENTIFIER_BYTES as MAX_IDENT_BYTES } from '../config/types.ts';
import { retarget } from './definition-text.ts';
import { constraintWithIndexSql, indexOn, type IndexConstraint } from './indexes.ts';
import { ident, literal, qualified, type TableName } from './quote.ts';
import type { StagedNotNull } from './types.ts';
import type { ColumnCatalog, ConstraintKind, Grant, IdentityCatalog, ObjectName, TargetCatalog } from './target-catalog.ts';

/** One `CREATE [UNIQUE] INDEX <name> ON <staged table> ...` of an exchange's `prepare`. */
export interface IndexBuild {
  /** The temporary name the index is built under. */
  readonly name: string;
  /** The statement, as it appears in `prepare`. */
  readonly sql: string;
}

/** The statements of an exchange: `prepare` builds on the staged table, `swap` holds the target's exclusive lock. */
export interface ExchangeStatements {
  readonly prepare: string[];
  readonly swap: string[];
  /**
   * The index builds of `prepare` that may run before the apply transaction (see prebuildSql): none when a
   * statement before them rewrites the staged table (a collation or persistence change), which rebuilds its indexes.
   */
  readonly prebuildable: readonly IndexBuild[];
}

/** Prefix of the temporary names one exchange uses: distinct per staged table, short enough for any suffix. */
export function exchangeTempPrefix(staging: TableName): string {
  return `pgx_${createHash('sha256').update(`${staging.schema}\u0000${staging.name}`).digest('hex').slice(0, 12)}`;
}

/** `LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE`: blocks DDL on the target (so its catalog stays as read) but not readers or writers. */
export function guardLockSql(target: TableName): string {
  return `LOCK TABLE ${qualified(target)} IN SHARE UPDATE EXCLUSIVE MODE`;
}

/** Clears the staging marker comment, which must not survive as the target's comment. */
export function clearStagingCommentSql(staging: TableName): string {
  return `COMMENT ON TABLE ${qualified(staging)} IS NULL`;
}

/** Whether a not-null constraint's definition is the plain `NOT NULL col` (not NO INHERIT, not NOT VALID). */
export function isPlainNotNull(definition: string): boolean {
  return /^NOT NULL (?:"(?:[^"]|"")+"|[^\s"]+)$/.test(definition);
}

/**
 * The NOT NULLs to create the staging table of an exchange with: every NOT NULL column of the target, under the
 * name of its not-null constraint (PostgreSQL 18 and later), except constraints that are NO INHERIT or NOT VALID,
 * which the exchange adds as they are. COPY then checks them row by row and the exchange keeps them as staged.
 */
export function stagedNotNullFor(catalog: TargetCatalog): StagedNotNull[] {
  const named = new Map(catalog.constraints.filter((c) => c.kind === 'not null').map((c) => [c.column, c]));
  return catalog.columns
    .filter((c) => c.notNull)
    .flatMap((c): StagedNotNull[] => {
      const constraint = named.get(c.name);
      if (constraint === undefined) return [{ column: c.name }];
      return isPlainNotNull(constraint.definition) ? [{ column: c.name, name: constraint.name }] : [];
    });
}

/**
 * The statements that make `staging` become `target`. With no catalog (no target yet) the staged table is
 * only moved into place. The caller guarantees staging is a plain table with the target's columns and types,
 * loaded, without constraints or indexes but the NOT NULLs listed in `staged`, and that exchangeRefusal found nothing.
 */
export function exchangeStatements(
  catalog: TargetCatalog | undefined,
  target: TableName,
  staging: TableName,
  tempPrefix: string,
  staged: readonly StagedNotNull[] = [],
): ExchangeStatements {
  if (target.schema === staging.schema && target.name === staging.name) throw new InternalError('exchange: staging and target are the same table');
  const temp = tempNamer(tempPrefix);
  const moved: TableName = { schema: target.schema, name: staging.name };
  const place: string[] = [];
  if (staging.schema !== target.schema) place.push(`ALTER TABLE ${qualified(staging)} SET SCHEMA ${ident(target.schema)}`);
  if (staging.name !== target.name) place.push(`ALTER TABLE ${qualified(moved)} RENAME TO ${ident(target.name)}`);
  if (!catalog) return { prepare: [], swap: place, prebuildable: [] };

  const s = qualified(staging);
  const t = qualified(target);
  const indexTemp = new Map<string, string>();
  const constraintTemp = new Map<string, string>();
  for (const c of catalog.constraints) if (hasIndex(c.kind)) constraintTemp.set(c.name, temp('c', constraintTemp.size + 1));
  for (const i of catalog.indexes) indexTemp.set(i.name, temp('i', indexTemp.size + 1));
  const tempIndex = (name: string): string => constraintTemp.get(name) ?? indexTemp.get(name) ?? name;
  const identities = catalog.columns.filter((c) => c.identity).map((c, n) => ({ column: c, temp: temp('s', n + 1) }));
  const stats = catalog.statistics.map((st, n) => ({ st, temp: temp('x', n + 1) }));
  const builds: IndexBuild[] = [];

  const prepare: string[] = [guardLockSql(target), `ALTER TABLE ${s} SET ${catalog.unlogged ? 'UNLOGGED' : 'LOGGED'}`];
  prepare.push(
    ...alterTable(
      s,
      catalog.columns.filter((c) => c.collation).map((c) => `ALTER COLUMN ${ident(c.name)} TYPE ${c.type} COLLATE ${qualified(c.collation as ObjectName)}`),
    ),
  );
  const namedNotNull = catalog.constraints.filter((c) => c.kind === 'not null');
  const covered = new Set(namedNotNull.map((c) => c.column));
  // NOT NULLs the staged table was created with (COPY checked every row) that are exactly the target's stay.
  const stagedBy = new Map(staged.map((n) => [n.column, n]));
  const kept = new Set<string | undefined>([
    ...namedNotNull.filter((c) => c.column !== undefined && stagedBy.get(c.column)?.name === c.name && isPlainNotNull(c.definition)).map((c) => c.column),
    ...catalog.columns.filter((c) => c.notNull && !covered.has(c.name) && stagedBy.has(c.name) && stagedBy.get(c.name)?.name === undefined).map((c) => c.name),
  ]);
  // PostgreSQL 18 refuses a second not-null constraint on a column, so a staged one goes before ours is added;
  // so does one the target does not have (any more).
  const dropped = [...new Set([...namedNotNull.map((c) => c.column ?? ''), ...staged.map((n) => n.column)])].filter((c) => !kept.has(c));
  prepare.push(
    ...alterTable(
      s,
      dropped.map((c) => `ALTER COLUMN ${ident(c)} DROP NOT NULL`),
    ),
  );
  // One ALTER TABLE, so every NOT NULL and CHECK left to add is verified in a single scan of the staged rows.
  prepare.push(
    ...alterTable(s, [
      ...namedNotNull.filter((c) => !kept.has(c.column)).map((c) => `ADD CONSTRAINT ${ident(c.name)} ${c.definition}`),
      ...catalog.columns.filter((c) => c.notNull && !covered.has(c.name) && !kept.has(c.name)).map((c) => `ALTER COLUMN ${ident(c.name)} SET NOT NULL`),
      ...catalog.columns.filter((c) => c.default !== undefined).map((c) => `ALTER COLUMN ${ident(c.name)} SET DEFAULT ${c.default}`),
      ...catalog.columns.filter((c) => c.statistics !== undefined).map((c) => `ALTER COLUMN ${ident(c.name)} SET STATISTICS ${int(c.statistics)}`),
      ...catalog.constraints.filter((c) => c.kind === 'check').map((c) => `ADD CONSTRAINT ${ident(c.name)} ${c.definition}`),
    ]),
  );
  prepare.push(
    ...alterTable(
      s,
      identities.map(({ column, temp: seq }) => identitySql(column, { schema: staging.schema, name: seq })),
    ),
  );
  for (const c of catalog.constraints.filter((k) => hasIndex(k.kind))) {
    if (c.index) {
      const kind = c.kind as IndexConstraint['kind'];
      const constraint = { kind, definition: c.definition, deferrable: c.deferrable === true, deferred: c.deferred === true };
      const statements = constraintWithIndexSql({ name: c.name, ...c.index }, constraint, tempIndex(c.name), staging, 'exchange');
      if (kind !== 'exclude') builds.push({ name: tempIndex(c.name), sql: statements[0] ?? '' });
      prepare.push(...statements);
    } else {
      prepare.push(`ALTER TABLE ${s} ADD CONSTRAINT ${ident(tempIndex(c.name))} ${c.definition}`);
    }
  }
  for (const i of catalog.indexes) {
    const sql = indexOn(i, tempIndex(i.name), staging, 'exchange');
    builds.push({ name: tempIndex(i.name), sql });
    prepare.push(sql);
  }
  for (const c of catalog.constraints.filter((k) => k.kind === 'foreign key')) {
    const definition = c.selfReference ? retarget(c.definition, 'REFERENCES ', staging) : c.definition;
    prepare.push(`ALTER TABLE ${s} ADD CONSTRAINT ${ident(c.name)} ${definition}`);
  }
  for (const tr of catalog.triggers) {
    prepare.push(retarget(tr.definition, ' ON ', staging));
    const state = { O: undefined, D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' }[tr.enabled];
    if (state) prepare.push(`ALTER TABLE ${s} ${state} TRIGGER ${ident(tr.name)}`);
  }
  for (const { st, temp: name } of stats) {
    const tempName = qualified({ schema: st.name.schema, name });
    const kinds = st.kinds.length > 0 ? ` (${st.kinds.map(keyword).join(', ')})` : '';
    prepare.push(`CREATE STATISTICS ${tempName}${kinds} ON ${st.columns} FROM ${s}`);
    if (st.target !== undefined) prepare.push(`ALTER STATISTICS ${tempName} SET STATISTICS ${int(st.target)}`);
    prepare.push(`ALTER STATISTICS ${tempName} OWNER TO ${ident(st.owner)}`);
    if (st.comment !== undefined) prepare.push(`COMMENT ON STATISTICS ${tempName} IS ${literal(st.comment)}`);
  }
  prepare.push(...alterTable(s, tableSettings(catalog, tempIndex)));
  prepare.push(...commentStatements(catalog, staging, tempIndex));

  const swap: string[] = [`LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`];
  for (const { column, temp: seq } of identities) {
    // The new identity sequence continues where the old one stopped; read under the lock, before the drop.
    const fresh = literal(qualified({ schema: staging.schema, name: seq }));
    swap.push(`SELECT pg_catalog.setval(${fresh}::pg_catalog.regclass, last_value, is_called) FROM ${qualified(column.identity?.sequence as ObjectName)}`);
  }
  // A serial's sequence would be dropped with its table: detach it, and attach it to the new table below.
  for (const o of catalog.ownedSequences) swap.push(`ALTER SEQUENCE ${qualified(o.sequence)} OWNED BY NONE`);
  swap.push(`DROP TABLE ${t}`, ...place);
  const inSchema = (name: string): string => qualified({ schema: target.schema, name });
  for (const i of catalog.indexes) swap.push(`ALTER INDEX ${inSchema(tempIndex(i.name))} RENAME TO ${ident(i.name)}`);
  // Renaming a constraint renames its index too.
  for (const [name, tmp] of constraintTemp) swap.push(`ALTER TABLE ${t} RENAME CONSTRAINT ${ident(tmp)} TO ${ident(name)}`);
  for (const { column, temp: seq } of identities) swap.push(`ALTER SEQUENCE ${inSchema(seq)} RENAME TO ${ident(column.identity?.sequence.name ?? '')}`);
  for (const { st, temp: name } of stats) swap.push(`ALTER STATISTICS ${qualified({ schema: st.name.schema, name })} RENAME TO ${ident(st.name.name)}`);
  // The owner before OWNED BY (sequence and table must share it) and before grants (so the owner is their grantor).
  swap.push(`ALTER TABLE ${t} OWNER TO ${ident(catalog.owner)}`);
  for (const o of catalog.ownedSequences) swap.push(`ALTER SEQUENCE ${qualified(o.sequence)} OWNED BY ${t}.${ident(o.column)}`);
  swap.push(...grantStatements(catalog, t));
  const rewrites = catalog.unlogged || catalog.columns.some((c) => c.collation);
  return { prepare, swap, prebuildable: rewrites ? [] : builds };
}

/** `ALTER TABLE t a, b, c`, or nothing when there are no subcommands. */
function alterTable(table: string, subcommands: readonly string[]): string[] {
  return subcommands.length === 0 ? [] : [`ALTER TABLE ${table}\n  ${subcommands.join(',\n  ')}`];
}

function hasIndex(kind: ConstraintKind): boolean {
  return kind === 'primary key' || kind === 'unique' || kind === 'exclude';
}

function tempNamer(prefix: string): (kind: string, n: number) => string {
  return (kind, n) => {
    const name = `${prefix}_${kind}${n}`;
    if (Buffer.byteLength(name) > MAX_IDENT_BYTES)
      throw new InternalError(`exchange: temporary name ${name} is longer than ${MAX_IDENT_BYTES} bytes; use a shorter prefix`);
    return name;
  };
}

/** An integer that reaches SQL as text; refuses anything else. */
function int(value: number | undefined): string {
  if (value === undefined || !Number.isSafeInteger(value)) throw new InternalError(`exchange: expected an integer, got ${String(value)}`);
  return String(value);
}

/** A catalog word pasted unquoted (privilege, statistics kind): letters and single spaces only. */
function keyword(word: string): string {
  if (!/^[A-Za-z]+( [A-Za-z]+)*$/.test(word)) throw new InternalError(`exchange: unexpected keyword ${JSON.stringify(word)}`);
  return word;
}

function int8(value: string): string {
  if (!/^-?\d+$/.test(value)) throw new InternalError(`exchange: expected an integer, got ${JSON.stringify(value)}`);
  return value;
}

function identitySql(column: ColumnCatalog, sequence: ObjectName): string {
  const id = column.identity as IdentityCatalog;
  const options = [
    `SEQUENCE NAME ${qualified(sequence)}`,
    `INCREMENT BY ${int8(id.increment)}`,
    `MINVALUE ${int8(id.min)}`,
    `MAXVALUE ${int8(id.max)}`,
    `START WITH ${int8(id.start)}`,
    `CACHE ${int8(id.cache)}`,
    id.cycle ? 'CYCLE' : 'NO CYCLE',
  ];
  return `ALTER COLUMN ${ident(column.name)} ADD GENERATED ${id.generation === 'ALWAYS' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY (${options.join(' ')})`;
}

/** Table-level settings as ALTER TABLE subcommands: storage parameters, replica identity, CLUSTER ON, row security. */
function tableSettings(catalog: TargetCatalog, tempIndex: (name: string) => string): string[] {
  const out: string[] = [];
  if (catalog.options.length > 0) {
    out.push(`SET (${catalog.options.map((o) => `${o.name.split('.').map(ident).join('.')} = ${literal(o.value)}`).join(', ')})`);
  }
  if (catalog.replicaIdentity === 'index') out.push(`REPLICA IDENTITY USING INDEX ${ident(tempIndex(catalog.replicaIdentityIndex ?? ''))}`);
  else if (catalog.replicaIdentity !== 'default') out.push(`REPLICA IDENTITY ${catalog.replicaIdentity.toUpperCase()}`);
  if (catalog.clusterIndex !== undefined) out.push(`CLUSTER ON ${ident(tempIndex(catalog.clusterIndex))}`);
  if (catalog.rowSecurity) out.push('ENABLE ROW LEVEL SECURITY');
  if (catalog.forceRowSecurity) out.push('FORCE ROW LEVEL SECURITY');
  return out;
}

/** Comments of the table (NULL clears the staging marker), its columns, indexes, constraints and triggers. */
function commentStatements(catalog: TargetCatalog, staging: TableName, tempIndex: (name: string) => string): string[] {
  const s = qualified(staging);
  const text = (comment: string | undefined): string => (comment === undefined ? 'NULL' : literal(comment));
  const inStaging = (name: string): string => qualified({ schema: staging.schema, name });
  const out = [`COMMENT ON TABLE ${s} IS ${text(catalog.comment)}`];
  for (const c of catalog.columns) if (c.comment !== undefined) out.push(`COMMENT ON COLUMN ${s}.${ident(c.name)} IS ${text(c.comment)}`);
  for (const i of catalog.indexes) if (i.comment !== undefined) out.push(`COMMENT ON INDEX ${inStaging(tempIndex(i.name))} IS ${text(i.comment)}`);
  for (const c of catalog.constraints) {
    const name = hasIndex(c.kind) ? tempIndex(c.name) : c.name;
    if (c.comment !== undefined) out.push(`COMMENT ON CONSTRAINT ${ident(name)} ON ${s} IS ${text(c.comment)}`);
    if (c.indexComment !== undefined) out.push(`COMMENT ON INDEX ${inStaging(name)} IS ${text(c.indexComment)}`);
  }
  for (const tr of catalog.triggers) if (tr.comment !== undefined) out.push(`COMMENT ON TRIGGER ${ident(tr.name)} ON ${s} IS ${text(tr.comment)}`);
  return out;
}

/**
 * The target's privileges on the new table. Issued after OWNER TO, so the owner is the grantor (a chain
 * through another grantor collapses onto the owner). The owner's own entry is rebuilt too: it may lack some.
 */
function grantStatements(catalog: TargetCatalog, table: string): string[] {
  const out: string[] = [];
  if (catalog.grants) {
    out.push(`REVOKE ALL ON TABLE ${table} FROM ${ident(catalog.owner)}`);
    const owner = catalog.grants.filter((g) => g.grantee === catalog.owner);
    const others = catalog.grants.filter((g) => g.grantee !== catalog.owner);
    for (const group of groupGrants([...owner, ...others])) {
      out.push(
        `GRANT ${group.privileges.map(keyword).join(', ')} ON TABLE ${table} TO ${grantee(group.grantee)}${group.grantable ? ' WITH GRANT OPTION' : ''}`,
      );
    }
  }
  for (const column of catalog.columns) {
    for (const group of groupGrants(column.grants)) {
      const list = group.privileges.map((p) => `${keyword(p)} (${ident(column.name)})`).join(', ');
      out.push(`GRANT ${list} ON TABLE ${table} TO ${grantee(group.grantee)}${group.grantable ? ' WITH GRANT OPTION' : ''}`);
    }
  }
  return out;
}

function grantee(role: string | null): string {
  return role === null ? 'PUBLIC' : ident(role);
}

/** Grants grouped by grantee and grant option, in order of first appearance. */
function groupGrants(grants: readonly Grant[]): { grantee: string | null; grantable: boolean; privileges: string[] }[] {
  const groups = new Map<string, { grantee: string | null; grantable: boolean; privileges: string[] }>();
  for (const g of grants) {
    const key = JSON.stringify([g.grantee, g.grantable]);
    const group = groups.get(key) ?? { grantee: g.grantee, grantable: g.grantable, privileges: [] };
    group.privileges.push(g.privilege);
    groups.set(key, group);
  }
  return [...groups.values()];
}

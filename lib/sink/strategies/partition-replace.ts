/**
 * `partition_replace`: replaces every partition that holds a staged value.
 *
 * Native (the target is partitioned by range or list on exactly the configured column, at every level):
 * each leaf partition holding a staged value is replaced WHOLE by the staged rows that belong in it: a new
 * table is built beside it, the old leaf is detached, the new one attached with the same bound, the old one
 * dropped and the new one renamed into its place. A DEFAULT (or foreign) partition cannot be replaced whole
 * without deleting rows of values that were not staged, so its staged values are replaced value by value
 * (delete/insert) under `native_mode: auto`, and refused under `required`.
 *
 * Fallback: delete the target rows whose partition value is staged, insert the staged rows.
 *
 * Every refusal (no partition for a value, too many partitions, an unsuitable target) happens before any change.
 */
import type { PartitionConfig, PipelineConfig } from '../../config/index.ts';
import { execute, query, type Db } from '../../db/index.ts';
import { ConfigError, InternalError, PartitionReplaceError, PartitionReplaceReasons, UnsafeTargetError } from '../../errors.ts';
import { createTableSql } from '../../sql/ddl.ts';
import { INDEX_CONSTRAINT_KINDS } from '../../sql/indexes.ts';
import {
  byValueSql, distinctValuesSql, fallbackSql, leafStatements, leafTempNames, leavesHoldingSql, partitionTempPrefix, stagedSource,
  valuesOutsideSql, valuesTable, valuesTableSql, type LeafIndex, type LeafPartition, type PartitionColumn,
} from '../../sql/partition.ts';
import { ident, qualified, type TableName } from '../../sql/quote.ts';
import type { ColumnSpec } from '../../sql/types.ts';
import type { RunPlan } from '../../state/types.ts';
import { withCatalogSearchPath } from '../target-catalog.ts';
import type { Strategy, StrategyContext, StrategyResult } from './types.ts';

const WHAT = 'partition_replace';
/** Leaves probed per statement: one EXISTS per leaf, planned together. */
const PROBE_BATCH = 100;

/** The target as partition_replace needs it. */
interface TargetInfo {
  readonly oid: string;
  readonly relkind: string;
  readonly columns: readonly { name: string; type: string; generated: boolean }[];
  /** Every partitioned table of the tree (the root first): strategy and key column (null for an expression or several columns). */
  readonly levels: readonly { table: string; strategy: string; key: string | null }[];
}

/** A leaf row of the catalog, before its indexes are read. */
interface LeafRow extends Omit<LeafPartition, 'indexes'> {
  readonly foreign: boolean;
  readonly isDefault: boolean;
}

function partitionConfig(config: PipelineConfig): PartitionConfig {
  const s = config.sink.strategy;
  if (s.mode !== 'partition_replace') throw new InternalError(`partition_replace strategy called for mode ${s.mode}`);
  return s.partition;
}

/** The target's columns and partitioning, or undefined when it does not exist. */
async function readTargetInfo(db: Db, target: TableName): Promise<TargetInfo | undefined> {
  return withCatalogSearchPath(db, async () => {
    const result = await query<{ oid: string; relkind: string; columns: TargetInfo['columns']; levels: TargetInfo['levels'] | null }>(db, {
      text: `SELECT c.oid::int8::text AS oid, c.relkind::text AS relkind,
  (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'generated', a.attgenerated <> '') ORDER BY a.attnum)
     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT json_agg(json_build_object('table', p.partrelid::regclass::text, 'strategy', p.partstrat::text,
            'key', CASE WHEN p.partnatts = 1 AND p.partattrs[0] <> 0
                        THEN (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]) END) ORDER BY t.level)
     FROM pg_partition_tree(c.oid) t JOIN pg_partitioned_table p ON p.partrelid = t.relid) AS levels
FROM pg_class c WHERE c.oid = to_regclass($1)`,
      values: [qualified(target)],
    }, WHAT);
    const row = result.rows[0];
    return row ? { oid: row.oid, relkind: row.relkind, columns: row.columns ?? [], levels: row.levels ?? [] } : undefined;
  });
}

/** Why the target cannot be replaced partition by partition natively, or undefined when it can. */
function nativeRefusal(info: TargetInfo | undefined, column: string): string | undefined {
  if (!info) return 'it does not exist';
  if (info.relkind !== 'p') return 'it is not a partitioned table';
  const other = info.levels.find((l) => l.key !== column);
  if (other) return `${other.table} is partitioned by ${other.key === null ? 'an expression or several columns' : ident(other.key)}, not by ${ident(column)} alone`;
  const hash = info.levels.find((l) => l.strategy === 'h');
  if (hash) return `${hash.table} is partitioned by hash: a hash partition holds an arbitrary mix of values, and replacing it whole would delete rows whose values were not staged`;
  return undefined;
}

/** Refuses a configuration whose partition column is not extracted. */
function checkColumnStaged(plan: RunPlan, column: string): void {
  if (!plan.columns.some((c) => c.name === column)) {
    throw new ConfigError([{ file: '', path: 'sink.strategy.partition.column', message: `${JSON.stringify(column)} is not among the extracted columns (${plan.columns.map((c) => c.name).join(', ')})` }]);
  }
}

/** The staged columns the INSERT writes: generated columns of the target are computed, not written. */
function insertColumns(plan: RunPlan, info: TargetInfo | undefined): ColumnSpec[] {
  const generated = new Set((info?.columns ?? []).filter((c) => c.generated).map((c) => c.name));
  return plan.columns.filter((c) => !generated.has(c.name));
}

function requiredRefusal(target: TableName, column: string, reason: string): UnsafeTargetError {
  return new UnsafeTargetError(`partition_replace with native_mode: required cannot replace partitions of ${qualified(target)} by ${ident(column)}: ${reason}. `
    + 'Use native_mode: auto (native when possible, delete/insert otherwise) or native_mode: fallback.');
}

function tooMany(count: number, limit: number, what: string): PartitionReplaceError {
  return new PartitionReplaceError(
    `partition_replace would replace ${count} ${what}, more than max_partitions_per_run (${limit}); nothing was changed. Raise the limit or load fewer partitions per run.`,
    { reason: PartitionReplaceReasons.tooManyPartitions, partitions: { count, limit } },
  );
}

async function applyFallback(ctx: StrategyContext, part: PartitionConfig, columns: readonly ColumnSpec[]): Promise<StrategyResult> {
  const { db, staging } = ctx;
  const target = ctx.config.sink.table;
  const counted = (await query<{ n: string; has_null: boolean }>(db, distinctValuesSql(staging, part.column), `${WHAT}: counting staged values`)).rows[0];
  const hasNull = counted?.has_null ?? false;
  const values = Number(counted?.n ?? 0) + (hasNull ? 1 : 0);
  if (values > part.max_partitions_per_run) throw tooMany(values, part.max_partitions_per_run, 'partition values');
  const sql = fallbackSql(target, staging, columns, part.column, { hasNull });
  let rowsDeleted = 0;
  for (const statement of sql.delete) rowsDeleted += (await query(db, statement, `${WHAT}: deleting replaced partition values`)).rowCount ?? 0;
  const inserted = await query(db, sql.insert, `${WHAT}: inserting staged rows`);
  ctx.log.info('partition_replace: replaced partition values by delete/insert', { values, rowsDeleted });
  return { rowsInserted: inserted.rowCount ?? 0, rowsDeleted };
}

/** Every leaf of the partition tree, with its bound, its partition constraint and what its replacement must keep. */
async function readLeaves(db: Db, root: string): Promise<LeafRow[]> {
  const result = await query<Record<string, unknown>>(db, {
    text: `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, pn.nspname AS parent_schema, p.relname AS parent_name,
  pg_get_expr(c.relpartbound, c.oid) AS bound, coalesce(pg_get_partition_constraintdef(c.oid), 'true') AS constraint,
  c.relkind = 'f' AS foreign, pg_get_userbyid(c.relowner) AS owner, c.relpersistence = 'u' AS unlogged, ts.spcname AS tablespace,
  obj_description(c.oid, 'pg_class') AS comment,
  (SELECT json_agg(json_build_object('name', o.option_name, 'value', o.option_value)) FROM pg_options_to_table(c.reloptions) o) AS options,
  CASE WHEN c.relacl IS NOT NULL THEN (SELECT coalesce(json_agg(json_build_object('grantee', CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END,
    'privilege', a.privilege_type, 'grantable', a.is_grantable)), '[]') FROM aclexplode(c.relacl) a) END AS grants
FROM pg_partition_tree($1::oid) t
JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class p ON p.oid = t.parentrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
WHERE t.isleaf ORDER BY c.oid DESC`,
    values: [root],
  }, WHAT);
  return result.rows.map((r) => {
    const opt = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
    const tablespace = opt(r.tablespace);
    const comment = opt(r.comment);
    return {
      oid: String(r.oid),
      table: { schema: String(r.schema), name: String(r.name) },
      parent: { schema: String(r.parent_schema), name: String(r.parent_name) },
      bound: String(r.bound),
      constraint: String(r.constraint),
      owner: String(r.owner),
      unlogged: r.unlogged === true,
      ...(tablespace === undefined ? {} : { tablespace }),
      options: (r.options ?? []) as LeafPartition['options'],
      ...(comment === undefined ? {} : { comment }),
      grants: (r.grants ?? null) as LeafPartition['grants'],
      foreign: r.foreign === true,
      isDefault: String(r.bound) === 'DEFAULT',
    };
  });
}

/** Indexes of the given leaves, by leaf OID; constraint-backed ones with their constraint. */
async function readIndexes(db: Db, oids: readonly string[]): Promise<Map<string, LeafIndex[]>> {
  const result = await query<{
    leaf: string; name: string; definition: string; tablespace: string | null;
    constraint_name: string | null; constraint_type: 'p' | 'u' | 'x' | null; constraint_def: string | null; deferrable: boolean | null; deferred: boolean | null;
  }>(db, {
    text: `SELECT i.indrelid::int8::text AS leaf, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
  k.conname AS constraint_name, k.contype::text AS constraint_type, pg_get_constraintdef(k.oid) AS constraint_def,
  k.condeferrable AS deferrable, k.condeferred AS deferred, ts.spcname AS tablespace
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
WHERE i.indrelid = ANY ($1::oid[]) ORDER BY i.indrelid, ic.relname`,
    values: [oids],
  }, WHAT);
  const out = new Map<string, LeafIndex[]>(oids.map((o) => [o, []]));
  for (const r of result.rows) {
    out.get(r.leaf)?.push({
      name: r.name,
      definition: r.definition,
      ...(r.constraint_name !== null && r.constraint_type !== null && r.constraint_def !== null
        ? {
          constraint: {
            name: r.constraint_name,
            kind: INDEX_CONSTRAINT_KINDS[r.constraint_type],
            definition: r.constraint_def,
            deferrable: r.deferrable === true,
            deferred: r.deferred === true,
          },
        }
        : {}),
      ...(r.tablespace !== null ? { tablespace: r.tablespace } : {}),
    });
  }
  return out;
}

/** What a leaf carries that a rebuilt leaf would lose or that would block dropping it: one line per leaf. */
async function leafDependents(db: Db, oids: readonly string[]): Promise<string[]> {
  const result = await query<{ leaf: string; reasons: string[] }>(db, {
    text: `SELECT c.oid::regclass::text AS leaf, array_remove(ARRAY[
  (SELECT 'views ' || string_agg(DISTINCT v.oid::regclass::text, ', ') FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
     WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid AND v.oid <> c.oid),
  (SELECT 'foreign keys ' || string_agg(format('%I of %s', k.conname, k.conrelid::regclass), ', ') FROM pg_constraint k
     WHERE k.contype = 'f' AND k.conparentid = 0 AND (k.confrelid = c.oid OR k.conrelid = c.oid)),
  (SELECT 'triggers ' || string_agg(quote_ident(g.tgname), ', ') FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal AND g.tgparentid = 0),
  (SELECT 'row-level security policies ' || string_agg(quote_ident(pol.polname), ', ') FROM pg_policy pol WHERE pol.polrelid = c.oid),
  (SELECT 'publications ' || string_agg(quote_ident(pb.pubname), ', ') FROM pg_publication_rel pr JOIN pg_publication pb ON pb.oid = pr.prpubid WHERE pr.prrelid = c.oid)
], NULL) AS reasons
FROM pg_class c WHERE c.oid = ANY ($1::oid[])`,
    values: [oids],
  }, WHAT);
  return result.rows.filter((r) => r.reasons.length > 0).map((r) => `${r.leaf} has its own ${r.reasons.join('; ')}`);
}

/** OIDs of the leaves holding at least one value of the values table, probed in batches. */
async function leavesHolding(db: Db, values: TableName, leaves: readonly LeafRow[], except: readonly string[] = []): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < leaves.length; i += PROBE_BATCH) {
    const sql = leavesHoldingSql(values, leaves.slice(i, i + PROBE_BATCH), except);
    for (const row of (await query<{ leaf: string }>(db, sql, `${WHAT}: finding the partitions of the staged values`)).rows) found.add(String(row.leaf));
  }
  return found;
}

async function applyNative(ctx: StrategyContext, part: PartitionConfig, info: TargetInfo, columns: readonly ColumnSpec[]): Promise<StrategyResult> {
  const { db, staging } = ctx;
  const target = ctx.config.sink.table;
  const required = part.native_mode === 'required';
  const targetType = info.columns.find((c) => c.name === part.column)?.type ?? '';
  const column: PartitionColumn = { name: part.column, type: targetType, cast: ctx.plan.columns.find((c) => c.name === part.column)?.type !== targetType };
  // Writers through the root and partition DDL wait from here on, so the leaves stay as read and no row written meanwhile is lost with a dropped leaf.
  await query(db, `LOCK TABLE ONLY ${qualified(target)} IN SHARE MODE`, `${WHAT}: locking the target`);
  const values = valuesTable(staging);
  await execute(db, valuesTableSql(values, staging, column, { index: true }), `${WHAT}: collecting the staged partition values`);

  const { leaves, indexes, dependents, deleted } = await withCatalogSearchPath(db, async () => {
    const all = await readLeaves(db, info.oid);
    const bounded = all.filter((l) => !l.isDefault);
    const holding = await leavesHolding(db, values, bounded);
    const defaults = all.filter((l) => l.isDefault);
    const exceptBounded = bounded.filter((l) => holding.has(l.oid)).map((l) => l.constraint);
    for (const oid of defaults.length > 0 ? await leavesHolding(db, values, defaults, exceptBounded) : []) holding.add(oid);
    // Bounded leaves first: a DEFAULT partition's constraint names every sibling and is the costly one to evaluate.
    const affected = [...bounded, ...defaults].filter((l) => holding.has(l.oid));
    const outside = (await query<{ n: string; value: string | null }>(db, valuesOutsideSql(values, part.column, affected.map((l) => l.constraint)), WHAT)).rows;
    if (outside.length > 0) {
      const count = Number(outside[0]?.n ?? 0);
      const sample = outside.map((r) => r.value);
      throw new PartitionReplaceError(
        `partition_replace: ${count} staged value(s) of ${ident(part.column)} belong to no partition of ${qualified(target)} (e.g. ${sample.map((v) => (v === null ? 'NULL' : JSON.stringify(v))).join(', ')}); `
        + 'nothing was changed. Create the missing partitions (or a DEFAULT partition) before the run.',
        { reason: PartitionReplaceReasons.noPartition, values: { count, sample } },
      );
    }
    const replaced = affected.filter((l) => !l.isDefault && !l.foreign);
    const byValue = affected.filter((l) => l.isDefault || l.foreign);
    if (required && byValue.length > 0) {
      throw requiredRefusal(target, part.column, `staged values belong to ${byValue.map((l) => `${l.isDefault ? 'the DEFAULT partition' : 'the foreign partition'} ${qualified(l.table)}`).join(', ')}, `
        + 'which cannot be replaced whole without deleting the rows of values that were not staged');
    }
    if (affected.length > part.max_partitions_per_run) throw tooMany(affected.length, part.max_partitions_per_run, 'partitions');
    const oids = replaced.map((l) => l.oid);
    const counts = new Map<string, number>();
    for (const l of replaced) {
      counts.set(l.oid, Number((await query<{ n: string }>(db, `SELECT count(*) AS n FROM ONLY ${qualified(l.table)}`, `${WHAT}: counting replaced rows`)).rows[0]?.n ?? 0));
    }
    return {
      leaves: { replaced, byValue },
      indexes: oids.length > 0 ? await readIndexes(db, oids) : new Map<string, LeafIndex[]>(),
      dependents: oids.length > 0 ? await leafDependents(db, oids) : [],
      deleted: [...counts.values()].reduce((a, b) => a + b, 0),
    };
  });
  if (dependents.length > 0) {
    throw new UnsafeTargetError(`partition_replace cannot replace partitions of ${qualified(target)} natively: ${dependents.join('; ')}. `
      + 'A replaced partition is dropped and rebuilt, which would lose or be blocked by these. Remove them, or use native_mode: fallback.');
  }

  const source = stagedSource(staging, ctx.plan.columns, column);
  const prefix = partitionTempPrefix(staging);
  const statements = leaves.replaced.map((leaf, n) => {
    const full: LeafPartition = { ...leaf, indexes: indexes.get(leaf.oid) ?? [] };
    return leafStatements(full, leafTempNames(prefix, n + 1, full), source, columns);
  });
  let rowsInserted = 0;
  let rowsDeleted = deleted;
  // Everything that only builds comes first, so the parent's exclusive lock (DETACH) is held as briefly as possible.
  for (const s of statements) {
    await execute(db, s.create, `${WHAT}: creating a replacement partition`);
    rowsInserted += (await query(db, s.insert, `${WHAT}: filling a replacement partition`)).rowCount ?? 0;
    await execute(db, s.build, `${WHAT}: indexing a replacement partition`);
  }
  if (leaves.byValue.length > 0) {
    const hasNull = (await query<{ n: boolean }>(db, `SELECT EXISTS (SELECT 1 FROM ${qualified(values)} WHERE ${ident(part.column)} IS NULL) AS n`, WHAT)).rows[0]?.n ?? false;
    const sql = byValueSql(target, leaves.byValue.map((l) => l.table), values, part.column, leaves.replaced.map((l) => l.constraint), source, columns, { hasNull });
    for (const statement of sql.delete) rowsDeleted += (await query(db, statement, `${WHAT}: deleting replaced values of a DEFAULT partition`)).rowCount ?? 0;
    rowsInserted += (await query(db, sql.insert, `${WHAT}: inserting staged rows of a DEFAULT partition`)).rowCount ?? 0;
  }
  // Every staged row belongs to exactly one replaced leaf or went in through the root; anything else would be a lost row.
  const staged = Number((await query<{ n: string }>(db, `SELECT count(*) AS n FROM ${qualified(staging)}`, WHAT)).rows[0]?.n ?? 0);
  if (staged !== rowsInserted) throw new InternalError(`partition_replace placed ${rowsInserted} of ${staged} staged rows in partitions of ${qualified(target)}; nothing was changed`);
  for (const s of statements) await execute(db, s.swap, `${WHAT}: swapping a partition`);
  await query(db, `DROP TABLE ${qualified(values)}`, WHAT);
  ctx.log.info('partition_replace: replaced partitions natively', {
    partitions: leaves.replaced.map((l) => qualified(l.table)),
    byValue: leaves.byValue.map((l) => qualified(l.table)),
    rowsInserted,
    rowsDeleted,
  });
  return { rowsInserted, rowsDeleted };
}

/** `partition_replace` (native or fallback, per `partition.native_mode`). */
export const partitionReplace: Strategy = {
  async check(db, config, plan) {
    const part = partitionConfig(config);
    checkColumnStaged(plan, part.column);
    if (part.native_mode !== 'required') return;
    const refusal = nativeRefusal(await readTargetInfo(db, config.sink.table), part.column);
    if (refusal !== undefined) throw requiredRefusal(config.sink.table, part.column, refusal);
  },

  async apply(ctx) {
    const part = partitionConfig(ctx.config);
    checkColumnStaged(ctx.plan, part.column);
    const target = ctx.config.sink.table;
    let info = await readTargetInfo(ctx.db, target);
    const refusal = nativeRefusal(info, part.column);
    if (part.native_mode === 'required' && refusal !== undefined) throw requiredRefusal(target, part.column, refusal);
    if (part.native_mode !== 'fallback' && refusal === undefined && info) return applyNative(ctx, part, info, insertColumns(ctx.plan, info));
    if (!info) {
      await query(ctx.db, createTableSql(target, ctx.plan.columns), 'creating the target');
      info = await readTargetInfo(ctx.db, target);
    }
    return applyFallback(ctx, part, insertColumns(ctx.plan, info));
  },

  async describe(db, config, plan, staging) {
    const part = partitionConfig(config);
    const target = config.sink.table;
    const info = plan.targetExists ? await readTargetInfo(db, target) : undefined;
    const columns = insertColumns(plan, info);
    const create = info ? [] : [createTableSql(target, plan.columns)];
    if (part.native_mode === 'fallback' || nativeRefusal(info, part.column) !== undefined) {
      const sql = fallbackSql(target, staging, columns, part.column, { hasNull: true });
      return [...create, sql.delete[0] ?? '', '-- only when a NULL value is staged:\n', sql.delete[1] ?? '', sql.insert];
    }
    const targetType = info?.columns.find((c) => c.name === part.column)?.type ?? '';
    const column: PartitionColumn = { name: part.column, type: targetType, cast: plan.columns.find((c) => c.name === part.column)?.type !== targetType };
    const values = valuesTable(staging);
    const leaf: LeafPartition = {
      oid: '0', table: { schema: '<leaf schema>', name: '<leaf>' }, parent: { schema: '<parent schema>', name: '<parent>' },
      bound: '<bound of the leaf>', constraint: '<partition constraint of the leaf>', owner: '<owner of the leaf>',
      unlogged: false, options: [], grants: null, indexes: [],
    };
    const statements = leafStatements(leaf, leafTempNames(partitionTempPrefix(staging), 1, leaf), stagedSource(staging, plan.columns, column), columns);
    return [
      `LOCK TABLE ONLY ${qualified(target)} IN SHARE MODE`,
      ...valuesTableSql(values, staging, column, { index: true }),
      '-- for every leaf partition (bound and constraint read from the catalog), whether it holds a staged value:\n',
      leavesHoldingSql(values, [{ oid: '0', constraint: '<partition constraint of the leaf>' }]),
      '-- for every leaf holding staged values: build its replacement, then swap it in (its indexes are rebuilt under temporary names and renamed):\n',
      ...statements.create, statements.insert, ...statements.build, ...statements.swap,
      '-- staged values of a DEFAULT partition (native_mode: auto only) are replaced value by value:\n',
      `DELETE FROM ONLY "<default partition>" WHERE ${ident(part.column)} IN (SELECT v.${ident(part.column)} FROM ${qualified(values)} AS v WHERE NOT <constraints of the replaced leaves>)`,
      `INSERT INTO ${qualified(target)} (...) SELECT ... FROM <staged rows> WHERE NOT <constraints of the replaced leaves>`,
      `DROP TABLE ${qualified(values)}`,
    ];
  },
};

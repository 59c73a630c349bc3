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
import { query, type Db } from '../../db/index.ts';
import { ConfigError, InternalError, PartitionReplaceError, PartitionReplaceReasons, UnsafeTargetError } from '../../errors.ts';
import { createTableSql } from '../../sql/ddl.ts';
import {
  byValueSql,
  distinctValuesSql,
  dropValuesTableSql,
  fallbackSql,
  leafStatements,
  leafTempNames,
  leavesHoldingSql,
  partitionLockSql,
  partitionTempPrefix,
  stagedSource,
  valuesOutsideSql,
  valuesTable,
  valuesTableSql,
  type LeafIndex,
  type LeafPartition,
  type PartitionColumn,
} from '../../sql/partition.ts';
import { ident, qualified, type TableName } from '../../sql/quote.ts';
import type { ColumnSpec } from '../../sql/types.ts';
import type { RunPlan } from '../../state/types.ts';
import {
  readLeafDependents,
  readLeafIndexes,
  readLeaves,
  readPartitionedTarget,
  withCatalogSearchPath,
  type LeafRow,
  type TargetInfo,
} from '../catalog/index.ts';
import { rows } from './shared.ts';
import { defineStrategy } from './statements.ts';
import type { StatementContext, Statements } from './types.ts';

const WHAT = 'partition_replace';

/** Leaves probed per statement: one EXISTS per leaf, planned together. */
const PROBE_BATCH = 100;

function partitionConfig(config: PipelineConfig): PartitionConfig {
  const s = config.sink.strategy;
  if (s.mode !== 'partition_replace') throw new InternalError(`partition_replace strategy called for mode ${s.mode}`);
  return s.partition;
}

/** Why the target cannot be replaced partition by partition natively, or undefined when it can. */
function nativeRefusal(info: TargetInfo | undefined, column: string): string | undefined {
  if (!info) return 'it does not exist';
  if (info.relkind !== 'p') return 'it is not a partitioned table';
  const other = info.levels.find((l) => l.key !== column);
  if (other)
    return `${other.table} is partitioned by ${other.key === null ? 'an expression or several columns' : ident(other.key)}, not by ${ident(column)} alone`;
  const hash = info.levels.find((l) => l.strategy === 'h');
  if (hash)
    return `${hash.table} is partitioned by hash: a hash partition holds an arbitrary mix of values, and replacing it whole would delete rows whose values were not staged`;
  return undefined;
}

/** Refuses a configuration whose partition column is not extracted. */
function checkColumnStaged(plan: RunPlan, column: string): void {
  if (!plan.columns.some((c) => c.name === column)) {
    throw new ConfigError([
      {
        file: '',
        path: 'sink.strategy.partition.column',
        message: `${JSON.stringify(column)} is not among the extracted columns (${plan.columns.map((c) => c.name).join(', ')})`,
      },
    ]);
  }
}

/** The staged columns the INSERT writes: generated columns of the target are computed, not written. */
function insertColumns(plan: RunPlan, info: TargetInfo | undefined): ColumnSpec[] {
  const generated = new Set((info?.columns ?? []).filter((c) => c.generated).map((c) => c.name));
  return plan.columns.filter((c) => !generated.has(c.name));
}

function requiredRefusal(target: TableName, column: string, reason: string): UnsafeTargetError {
  return new UnsafeTargetError(
    `partition_replace with native_mode: required cannot replace partitions of ${qualified(target)} by ${ident(column)}: ${reason}. ` +
      'Use native_mode: auto (native when possible, delete/insert otherwise) or native_mode: fallback.',
  );
}

function tooMany(count: number, limit: number, what: string): PartitionReplaceError {
  return new PartitionReplaceError(
    `partition_replace would replace ${count} ${what}, more than max_partitions_per_run (${limit}); nothing was changed. Raise the limit or load fewer partitions per run.`,
    { reason: PartitionReplaceReasons.tooManyPartitions, partitions: { count, limit } },
  );
}

async function* fallbackStatements(ctx: StatementContext, part: PartitionConfig, columns: readonly ColumnSpec[]): Statements {
  const { db, staging, describing } = ctx;
  const target = ctx.config.sink.table;
  let hasNull = true;
  let values = 0;
  if (!describing) {
    const counted = (await query<{ n: string; has_null: boolean }>(db, distinctValuesSql(staging, part.column), `${WHAT}: counting staged values`)).rows[0];
    hasNull = counted?.has_null ?? false;
    values = Number(counted?.n ?? 0) + (hasNull ? 1 : 0);
    if (values > part.max_partitions_per_run) throw tooMany(values, part.max_partitions_per_run, 'partition values');
  }
  const sql = fallbackSql(target, staging, columns, part.column, { hasNull });
  let rowsDeleted = 0;
  for (const [n, statement] of sql.delete.entries()) {
    if (describing && n === 1) yield { note: '-- only when a NULL value is staged:\n' };
    rowsDeleted += rows(yield { sql: statement, what: `${WHAT}: deleting replaced partition values` });
  }
  const inserted = yield { sql: sql.insert, what: `${WHAT}: inserting staged rows` };
  if (!describing) ctx.log.info('partition_replace: replaced partition values by delete/insert', { values, rowsDeleted });
  return { rowsInserted: rows(inserted), rowsDeleted };
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

async function* nativeStatements(ctx: StatementContext, part: PartitionConfig, info: TargetInfo, columns: readonly ColumnSpec[]): Statements {
  const { db, staging } = ctx;
  const target = ctx.config.sink.table;
  const required = part.native_mode === 'required';
  const targetType = info.columns.find((c) => c.name === part.column)?.type ?? '';
  const column: PartitionColumn = { name: part.column, type: targetType, cast: ctx.plan.columns.find((c) => c.name === part.column)?.type !== targetType };
  if (ctx.describing) return yield* nativeTemplate(ctx, part, column, columns);
  // Writers through the root and partition DDL wait from here on, so the leaves stay as read and no row written meanwhile is lost with a dropped leaf.
  yield { sql: partitionLockSql(target), what: `${WHAT}: locking the target` };
  const values = valuesTable(staging);
  yield { batch: valuesTableSql(values, staging, column, { index: true }), what: `${WHAT}: collecting the staged partition values` };

  const { leaves, indexes, dependents, deleted } = await withCatalogSearchPath(db, async () => {
    const all = await readLeaves(db, info.oid);
    const bounded = all.filter((l) => !l.isDefault);
    const holding = await leavesHolding(db, values, bounded);
    const defaults = all.filter((l) => l.isDefault);
    const exceptBounded = bounded.filter((l) => holding.has(l.oid)).map((l) => l.constraint);
    for (const oid of defaults.length > 0 ? await leavesHolding(db, values, defaults, exceptBounded) : []) holding.add(oid);
    // Bounded leaves first: a DEFAULT partition's constraint names every sibling and is the costly one to evaluate.
    const affected = [...bounded, ...defaults].filter((l) => holding.has(l.oid));
    const outside = (
      await query<{ n: string; value: string | null }>(
        db,
        valuesOutsideSql(
          values,
          part.column,
          affected.map((l) => l.constraint),
        ),
        WHAT,
      )
    ).rows;
    if (outside.length > 0) {
      const count = Number(outside[0]?.n ?? 0);
      const sample = outside.map((r) => r.value);
      throw new PartitionReplaceError(
        `partition_replace: ${count} staged value(s) of ${ident(part.column)} belong to no partition of ${qualified(target)} (e.g. ${sample.map((v) => (v === null ? 'NULL' : JSON.stringify(v))).join(', ')}); ` +
          'nothing was changed. Create the missing partitions (or a DEFAULT partition) before the run.',
        { reason: PartitionReplaceReasons.noPartition, values: { count, sample } },
      );
    }
    const replaced = affected.filter((l) => !l.isDefault && !l.foreign);
    const byValue = affected.filter((l) => l.isDefault || l.foreign);
    if (required && byValue.length > 0) {
      throw requiredRefusal(
        target,
        part.column,
        `staged values belong to ${byValue.map((l) => `${l.isDefault ? 'the DEFAULT partition' : 'the foreign partition'} ${qualified(l.table)}`).join(', ')}, ` +
          'which cannot be replaced whole without deleting the rows of values that were not staged',
      );
    }
    if (affected.length > part.max_partitions_per_run) throw tooMany(affected.length, part.max_partitions_per_run, 'partitions');
    const oids = replaced.map((l) => l.oid);
    const counts = new Map<string, number>();
    for (const l of replaced) {
      counts.set(
        l.oid,
        Number((await query<{ n: string }>(db, `SELECT count(*) AS n FROM ONLY ${qualified(l.table)}`, `${WHAT}: counting replaced rows`)).rows[0]?.n ?? 0),
      );
    }
    return {
      leaves: { replaced, byValue },
      indexes: oids.length > 0 ? await readLeafIndexes(db, oids) : new Map<string, LeafIndex[]>(),
      dependents: oids.length > 0 ? await readLeafDependents(db, oids) : [],
      deleted: [...counts.values()].reduce((a, b) => a + b, 0),
    };
  });
  if (dependents.length > 0) {
    throw new UnsafeTargetError(
      `partition_replace cannot replace partitions of ${qualified(target)} natively: ${dependents.join('; ')}. ` +
        'A replaced partition is dropped and rebuilt, which would lose or be blocked by these. Remove them, or use native_mode: fallback.',
    );
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
    yield { batch: s.create, what: `${WHAT}: creating a replacement partition` };
    rowsInserted += rows(yield { sql: s.insert, what: `${WHAT}: filling a replacement partition` });
    yield { batch: s.build, what: `${WHAT}: indexing a replacement partition` };
  }
  if (leaves.byValue.length > 0) {
    const hasNull =
      (await query<{ n: boolean }>(db, `SELECT EXISTS (SELECT 1 FROM ${qualified(values)} WHERE ${ident(part.column)} IS NULL) AS n`, WHAT)).rows[0]?.n ??
      false;
    const sql = byValueSql(
      target,
      leaves.byValue.map((l) => l.table),
      values,
      part.column,
      leaves.replaced.map((l) => l.constraint),
      source,
      columns,
      { hasNull },
    );
    for (const statement of sql.delete) rowsDeleted += rows(yield { sql: statement, what: `${WHAT}: deleting replaced values of a DEFAULT partition` });
    rowsInserted += rows(yield { sql: sql.insert, what: `${WHAT}: inserting staged rows of a DEFAULT partition` });
  }
  // Every staged row belongs to exactly one replaced leaf or went in through the root; anything else would be a lost row.
  const staged = Number((await query<{ n: string }>(db, `SELECT count(*) AS n FROM ${qualified(staging)}`, WHAT)).rows[0]?.n ?? 0);
  if (staged !== rowsInserted)
    throw new InternalError(`partition_replace placed ${rowsInserted} of ${staged} staged rows in partitions of ${qualified(target)}; nothing was changed`);
  for (const s of statements) yield { batch: s.swap, what: `${WHAT}: swapping a partition` };
  yield { sql: dropValuesTableSql(values), what: WHAT };
  ctx.log.info('partition_replace: replaced partitions natively', {
    partitions: leaves.replaced.map((l) => qualified(l.table)),
    byValue: leaves.byValue.map((l) => qualified(l.table)),
    rowsInserted,
    rowsDeleted,
  });
  return { rowsInserted, rowsDeleted };
}

/**
 * What `pgferry plan` prints for a native replacement: which leaves hold staged values is known only once they are
 * staged, so one leaf stands for each, with placeholders for what the catalog gives the run.
 */
async function* nativeTemplate(ctx: StatementContext, part: PartitionConfig, column: PartitionColumn, columns: readonly ColumnSpec[]): Statements {
  const { staging, plan } = ctx;
  const target = ctx.config.sink.table;
  const values = valuesTable(staging);
  const leaf: LeafPartition = {
    oid: '0',
    table: { schema: '<leaf schema>', name: '<leaf>' },
    parent: { schema: '<parent schema>', name: '<parent>' },
    bound: '<bound of the leaf>',
    constraint: '<partition constraint of the leaf>',
    owner: '<owner of the leaf>',
    unlogged: false,
    options: [],
    grants: null,
    indexes: [],
  };
  const statements = leafStatements(leaf, leafTempNames(partitionTempPrefix(staging), 1, leaf), stagedSource(staging, plan.columns, column), columns);
  yield { sql: partitionLockSql(target), what: WHAT };
  yield { batch: valuesTableSql(values, staging, column, { index: true }), what: WHAT };
  yield { note: '-- for every leaf partition (bound and constraint read from the catalog), whether it holds a staged value:\n' };
  yield { sql: leavesHoldingSql(values, [{ oid: '0', constraint: '<partition constraint of the leaf>' }]), what: WHAT };
  yield {
    note: '-- for every leaf holding staged values: build its replacement, then swap it in (its indexes are rebuilt under temporary names and renamed):\n',
  };
  yield { batch: [...statements.create, statements.insert, ...statements.build, ...statements.swap], what: WHAT };
  yield { note: '-- staged values of a DEFAULT partition (native_mode: auto only) are replaced value by value:\n' };
  yield {
    batch: [
      `DELETE FROM ONLY "<default partition>" WHERE ${ident(part.column)} IN (SELECT v.${ident(part.column)} FROM ${qualified(values)} AS v WHERE NOT <constraints of the replaced leaves>)`,
      `INSERT INTO ${qualified(target)} (...) SELECT ... FROM <staged rows> WHERE NOT <constraints of the replaced leaves>`,
    ],
    what: WHAT,
  };
  yield { sql: dropValuesTableSql(values), what: WHAT };
  return { rowsInserted: 0, rowsDeleted: 0 };
}

/** `partition_replace` (native or fallback, per `partition.native_mode`). */
export const partitionReplace = defineStrategy({
  label: (config) => ({ mode: 'partition_replace', strategy: partitionConfig(config).native_mode }),
  selects: (s) => s.mode === 'partition_replace',
  // Native replacement (DETACH / ATTACH / DROP) needs the owner; fallback deletes and inserts.
  needs: (config, target) => (partitionConfig(config).native_mode !== 'fallback' && target.partitioned ? ['ownership'] : ['SELECT', 'INSERT', 'DELETE']),
  async check(db, config, plan) {
    const part = partitionConfig(config);
    checkColumnStaged(plan, part.column);
    if (part.native_mode !== 'required') return;
    const refusal = nativeRefusal(await readPartitionedTarget(db, config.sink.table), part.column);
    if (refusal !== undefined) throw requiredRefusal(config.sink.table, part.column, refusal);
  },

  async *statements(ctx) {
    const part = partitionConfig(ctx.config);
    checkColumnStaged(ctx.plan, part.column);
    const target = ctx.config.sink.table;
    let info = await readPartitionedTarget(ctx.db, target);
    const refusal = nativeRefusal(info, part.column);
    if (part.native_mode === 'required' && refusal !== undefined) throw requiredRefusal(target, part.column, refusal);
    if (part.native_mode !== 'fallback' && refusal === undefined && info) return yield* nativeStatements(ctx, part, info, insertColumns(ctx.plan, info));
    if (!info) {
      yield { sql: createTableSql(target, ctx.plan.columns), what: 'creating the target' };
      if (!ctx.describing) info = await readPartitionedTarget(ctx.db, target);
    }
    return yield* fallbackStatements(ctx, part, insertColumns(ctx.plan, info));
  },
});

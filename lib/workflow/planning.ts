/**
 * The decisions of a run, made the same way by the Plan task and by `pgferry plan` (which connects
 * read-only and only prints them): columns, chunk column, chunk bounds, staging names, target checks.
 */
import type { PipelineConfig } from '../config/index.ts';
import { query, type Db } from '../db/index.ts';
import { serverVersion } from '../db/server.ts';
import { ConfigError, DatabaseError, UnsafeTargetError } from '../errors.ts';
import type { TaskLogger } from '../log.ts';
import { dedupeKeys, strategyFor, XMIN_COLUMN } from '../sink/strategies/index.ts';
import { readSchemaExists } from '../sink/catalog/index.ts';
import { stagingNames } from '../sink/staging.ts';
import { describeTable, type TargetColumn } from '../sink/target.ts';
import { chunkRowsFor, planChunks } from '../source/chunks.ts';
import { describeSource, tableColumnType } from '../source/describe.ts';
import { stagedKeysUnique } from '../source/unique-key.ts';
import { planWindow } from '../source/window.ts';
import { chunkPredicate, sourceSelect, type ChunkBounds } from '../sql/extract.ts';
import { ident, qualified } from '../sql/quote.ts';
import type { ColumnSpec } from '../sql/types.ts';
import type { RunPlan } from '../state/types.ts';
import { MAX_PLAN_OUTPUT_BYTES } from './definition.ts';

/** Whether the pipeline's staging table becomes its target (created LOGGED, in the target's columns). */
export function stagingBecomesTarget(config: PipelineConfig): boolean {
  return strategyFor(config).stagingBecomesTarget === true;
}

/** The predicates of the extraction, AND-ed onto every chunk: custom_predicate (raw SQL) and the window. */
export function extractionPredicates(config: PipelineConfig, plan?: RunPlan): string[] {
  const predicates = config.source.options.custom_predicate ? [config.source.options.custom_predicate] : [];
  if (plan?.window.predicate) predicates.push(plan.window.predicate);
  return predicates;
}

/** The SELECT one chunk extracts: the planned columns (plus the xmin tie-breaker), inside the window and the chunk's range. */
export function chunkSelect(config: PipelineConfig, plan: RunPlan, bounds: ChunkBounds): string {
  const predicates = extractionPredicates(config, plan);
  const range = plan.chunkColumn ? chunkPredicate(plan.chunkColumn, bounds) : undefined;
  if (range) predicates.push(range);
  const extra = plan.xminReference === undefined ? [] : [xminExpression(plan.xminReference)];
  return sourceSelect(
    config.source,
    plan.columns.map((c) => c.name),
    predicates,
    extra,
  );
}

/** The row's 32-bit xmin as a 64-bit number, assuming it is at most 2^32 transactions before the plan's snapshot. */
function xminExpression(reference: string): string {
  const n = BigInt(reference);
  const n32 = n % 2n ** 32n;
  return `(${n} - ((${n32} - xmin::text::bigint + 4294967296) % 4294967296)) AS ${ident(XMIN_COLUMN)}`;
}

/** Options of {@link computePlan}. */
export interface PlanOptions {
  /** The stored cursor, read under the lease. */
  readonly stored: unknown;
  /** Ignore the stored cursor for this run. */
  readonly fullRefresh: boolean;
  readonly log: TaskLogger;
  /** Bytes of the table per chunk when `chunk_rows` is not set. @default CONFIG_DEFAULTS.chunkBytes */
  readonly chunkBytes?: number;
}

/** What {@link computePlan} decided. */
export interface ComputedPlan {
  readonly plan: RunPlan;
  readonly chunks: ChunkBounds[];
  /** Target rows per chunk: `chunk_rows`, or the default for the table's row width. */
  readonly chunkRows: number;
  /** Bytes per row of a table source as stored, when known. */
  readonly rowBytes?: number;
}

/** Computes a run's plan and chunk bounds; reads source and target, writes nothing. */
export async function computePlan(source: Db, target: Db, config: PipelineConfig, runId: string, options: PlanOptions): Promise<ComputedPlan> {
  const described = await describeSource(source, config.source, config.source.columns);
  const find = (name: string | undefined): ColumnSpec | undefined => described.columns.find((c) => c.name === name);
  for (const key of strategyFor(config).keys?.(config) ?? []) {
    if (!find(key)) throw new DatabaseError(`sink.strategy.unique_key: the source returns no column ${JSON.stringify(key)}`, '42703');
  }
  const chunkColumn = await resolveChunkColumn(source, config, described.columns, described.primaryKey);
  const { columns, exists, targetColumns } = await checkTarget(target, config, described.columns);
  const cursorColumn = config.source.options.incremental_strategy === 'column' ? find(config.source.options.incremental_column) : undefined;
  const window = await planWindow(source, { config, cursorColumn, stored: options.stored, fullRefresh: options.fullRefresh, log: options.log });
  const names = stagingNames(config.name, runId, config.sink.table);
  const plan: RunPlan = {
    columns,
    chunkColumn,
    staging: { schema: config.sink.staging.schema, name: names.name, doneName: names.doneName },
    targetExists: exists,
    window,
    xminReference: await xminReference(source, config),
    ...(targetColumns ? { targetColumns } : {}),
  };
  const additions = await strategyFor(config).check?.(target, config, plan);
  const chunkRows = chunkRowsFor(config.source.options.chunk_rows, described.rowBytes, options.chunkBytes);
  const chunks = await planChunks(source, {
    source: config.source,
    predicates: extractionPredicates(config, plan),
    chunkColumn,
    chunkRows,
    estimatedRows: described.estimatedRows,
  });
  refuseOversizedPlan(config, runId, chunks.length, chunkRows);
  const keys = dedupeKeys(config)?.keys ?? [];
  const unique = await stagedKeysUnique({ source, target }, { source: config.source.table, target: config.sink.table, targetExists: exists }, keys, {
    count: chunks.length,
    column: chunkColumn?.name,
  });
  return {
    plan: { ...plan, ...additions, ...(unique ? { stagedKeysUnique: unique } : {}) },
    chunks,
    chunkRows,
    ...(described.rowBytes !== undefined ? { rowBytes: described.rowBytes } : {}),
  };
}

/** Bytes of Plan's output `{pipeline, runId, chunks: [0, ..., count - 1], maxParallelChunks}` as Step Functions counts them (the widest max_parallel_chunks, 256). */
export function planOutputBytes(pipeline: string, runId: string, count: number): number {
  let bytes = Buffer.byteLength(JSON.stringify({ pipeline, runId, chunks: [], maxParallelChunks: 256 }));
  // Chunk numbers 0..count-1 and the commas between them, decade by decade.
  for (let digits = 1, from = 0; from < count; digits += 1, from = 10 ** (digits - 1)) {
    bytes += (Math.min(count, 10 ** digits) - from) * digits;
  }
  return bytes + Math.max(0, count - 1);
}

/** The most chunks whose Plan output fits {@link MAX_PLAN_OUTPUT_BYTES}. */
export function maxChunks(pipeline: string, runId: string): number {
  let low = 1;
  let high = MAX_PLAN_OUTPUT_BYTES;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (planOutputBytes(pipeline, runId, mid) <= MAX_PLAN_OUTPUT_BYTES) low = mid;
    else high = mid - 1;
  }
  return low;
}

/**
 * Refuses, before anything is written, a plan whose output would pass the payload limit: on AWS the
 * execution would end in States.DataLimitExceeded, which no Catch sees.
 */
function refuseOversizedPlan(config: PipelineConfig, runId: string, count: number, chunkRows: number): void {
  const bytes = planOutputBytes(config.name, runId, count);
  if (bytes <= MAX_PLAN_OUTPUT_BYTES) return;
  const most = maxChunks(config.name, runId);
  const fits = Math.ceil((chunkRows * count) / most / 1000) * 1000;
  throw new ConfigError([
    {
      file: `pipeline ${config.name}`,
      path: 'source.options.chunk_rows',
      message: `${chunkRows} rows per chunk make ${count} chunks, whose plan (${bytes} bytes) would pass the ${MAX_PLAN_OUTPUT_BYTES}-byte limit of a state's output (Step Functions allows 256 KiB); at most ${most} chunks fit: set chunk_rows to ${fits} or more`,
    },
  ]);
}

/** The plan's next xid, when keep_last on a table source breaks ties by the latest xmin. */
async function xminReference(source: Db, config: PipelineConfig): Promise<string | undefined> {
  const s = config.sink.strategy;
  const keepLast = 'duplicate_policy' in s && s.duplicate_policy === 'keep_last';
  if (!keepLast || !config.source.table) return undefined;
  const sql = (await serverVersion(source)) >= 130000 ? 'pg_snapshot_xmax(pg_current_snapshot())::text' : 'txid_snapshot_xmax(txid_current_snapshot())::text';
  const result = await query<{ x: string }>(source, `SELECT ${sql} AS x`, 'reading the snapshot');
  return result.rows[0]?.x;
}

async function resolveChunkColumn(
  source: Db,
  config: PipelineConfig,
  columns: readonly ColumnSpec[],
  primaryKey: ColumnSpec | undefined,
): Promise<ColumnSpec | undefined> {
  const wanted = config.source.options.chunk_column;
  if (wanted === undefined) return primaryKey;
  const projected = columns.find((c) => c.name === wanted);
  if (projected) return projected;
  const fromTable = config.source.table ? await tableColumnType(source, config.source.table, wanted) : undefined;
  if (fromTable) return fromTable;
  throw new DatabaseError(`source.options.chunk_column: the source has no column ${JSON.stringify(wanted)}`, '42703');
}

/**
 * Checks the target before anything is extracted, so a run that cannot load fails early. Returns the
 * column list to extract: for exchange into an existing table, in the target's order.
 */
async function checkTarget(
  target: Db,
  config: PipelineConfig,
  columns: readonly ColumnSpec[],
): Promise<{ columns: readonly ColumnSpec[]; exists: boolean; targetColumns?: TargetColumn[] }> {
  const table = config.sink.table;
  const existing = await describeTable(target, table);
  if (!existing) {
    if (!config.sink.create_table) {
      throw new DatabaseError(`target table ${qualified(table)} does not exist and sink.create_table is false`, '42P01');
    }
    // Found now rather than after every chunk is extracted: a run creates the target table, not its schema.
    if (!(await readSchemaExists(target, table.schema))) {
      throw new DatabaseError(
        `target schema ${ident(table.schema)} does not exist (a run creates the target table, not its schema); create it: CREATE SCHEMA ${ident(table.schema)}`,
        '3F000',
      );
    }
    return { columns, exists: false };
  }
  const byName = new Map(existing.map((c) => [c.name, c.type]));
  const missing = columns.filter((c) => !byName.has(c.name)).map((c) => c.name);
  if (missing.length > 0) {
    throw new DatabaseError(
      `target table ${qualified(table)} has no column(s) ${missing.map((m) => JSON.stringify(m)).join(', ')} that the source returns`,
      '42703',
    );
  }
  if (!stagingBecomesTarget(config)) return { columns, exists: true, targetColumns: existing };
  const sourceTypes = new Map(columns.map((c) => [c.name, c.type]));
  const mismatched = existing.filter((c) => sourceTypes.get(c.name) !== c.type);
  if (mismatched.length > 0) {
    const detail = mismatched
      .map((c) => `${JSON.stringify(c.name)} is ${c.type} in the target and ${sourceTypes.get(c.name) ?? 'missing'} in the source`)
      .join('; ');
    throw new UnsafeTargetError(
      `exchange replaces ${qualified(table)} by a table of the source's columns, but ${detail}; use overwrite_type: truncate_insert or align the columns`,
    );
  }
  return { columns: existing.map((c) => ({ name: c.name, type: c.type })), exists: true, targetColumns: existing };
}

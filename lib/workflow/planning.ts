/**
 * The decisions of a run, made the same way by the Plan task and by `pgferry plan` (which connects
 * read-only and only prints them): columns, chunk column, chunk bounds, staging names, target checks.
 */
import type { PipelineConfig } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { DatabaseError, UnsafeTargetError } from '../errors.ts';
import { checkExchangeAllowed } from '../sink/exchange.ts';
import { stagingNames } from '../sink/staging.ts';
import { describeTable } from '../sink/target.ts';
import { planChunks } from '../source/chunks.ts';
import { describeSource, tableColumnType } from '../source/describe.ts';
import type { ChunkBounds } from '../sql/extract.ts';
import { qualified } from '../sql/quote.ts';
import type { ColumnSpec, RunPlan } from '../state/types.ts';

/** Whether the pipeline's strategy replaces the target by its staging table. */
export function isExchange(config: PipelineConfig): boolean {
  return config.sink.strategy.mode === 'full_refresh' && config.sink.strategy.overwrite_type === 'exchange';
}

/** The raw predicates of the extraction, AND-ed onto every chunk. */
export function extractionPredicates(config: PipelineConfig): string[] {
  return config.source.options.custom_predicate ? [config.source.options.custom_predicate] : [];
}

/** Computes a run's plan and chunk bounds; reads source and target, writes nothing. */
export async function computePlan(source: Db, target: Db, config: PipelineConfig, runId: string): Promise<{ plan: RunPlan; chunks: ChunkBounds[] }> {
  const described = await describeSource(source, config.source, config.source.columns);
  const chunkColumn = await resolveChunkColumn(source, config, described.columns, described.primaryKey);
  const { columns, exists } = await checkTarget(target, config, described.columns);
  const names = stagingNames(config.name, runId, config.sink.table);
  const plan: RunPlan = {
    columns,
    chunkColumn,
    staging: { schema: config.sink.staging.schema, name: names.name, doneName: names.doneName },
    targetExists: exists,
  };
  const chunks = await planChunks(source, {
    source: config.source,
    predicates: extractionPredicates(config),
    chunkColumn,
    chunkRows: config.source.options.chunk_rows,
    estimatedRows: described.estimatedRows,
  });
  return { plan, chunks };
}

async function resolveChunkColumn(source: Db, config: PipelineConfig, columns: readonly ColumnSpec[], primaryKey: ColumnSpec | undefined): Promise<ColumnSpec | undefined> {
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
): Promise<{ columns: readonly ColumnSpec[]; exists: boolean }> {
  const table = config.sink.table;
  const existing = await describeTable(target, table);
  if (!existing) {
    if (!config.sink.create_table) {
      throw new DatabaseError(`target table ${qualified(table)} does not exist and sink.create_table is false`, '42P01');
    }
    return { columns, exists: false };
  }
  const byName = new Map(existing.map((c) => [c.name, c.type]));
  const missing = columns.filter((c) => !byName.has(c.name)).map((c) => c.name);
  if (missing.length > 0) {
    throw new DatabaseError(`target table ${qualified(table)} has no column(s) ${missing.map((m) => JSON.stringify(m)).join(', ')} that the source returns`, '42703');
  }
  if (!isExchange(config)) return { columns, exists: true };
  await checkExchangeAllowed(target, table);
  const sourceTypes = new Map(columns.map((c) => [c.name, c.type]));
  const mismatched = existing.filter((c) => sourceTypes.get(c.name) !== c.type);
  if (mismatched.length > 0) {
    const detail = mismatched.map((c) => `${JSON.stringify(c.name)} is ${c.type} in the target and ${sourceTypes.get(c.name) ?? 'missing'} in the source`).join('; ');
    throw new UnsafeTargetError(`exchange replaces ${qualified(table)} by a table of the source's columns, but ${detail}; use overwrite_type: truncate_insert or align the columns`);
  }
  return { columns: existing, exists: true };
}

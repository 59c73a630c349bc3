/** `pgferry plan <file>`: connects read-only and prints the window, the chunks and the SQL a run would execute. */
import { loadPipelineFile, type PipelineConfig } from '../../config/index.ts';
import { openConnection } from '../../connections/index.ts';
import { close, type Db } from '../../db/index.ts';
import { readTargetCatalog } from '../../sink/exchange.ts';
import { stagingTables } from '../../sink/staging.ts';
import { createStagingSql, createTableSql, dropStagingSql } from '../../sql/ddl.ts';
import { exchangeStatements } from '../../sql/exchange.ts';
import { chunkPredicate, copyFromSql, copyToSql, sourceSelect, type ChunkBounds } from '../../sql/extract.ts';
import { truncateInsertSql } from '../../sql/load.ts';
import { qualified } from '../../sql/quote.ts';
import { acquireLeaseSql, completeRunSql, fenceSql, stateSchemaSql } from '../../state/sql.ts';
import type { RunPlan } from '../../state/types.ts';
import { computePlan, extractionPredicates, isExchange } from '../../workflow/planning.ts';
import { assertSupported, strategyLabel } from '../../workflow/request.ts';
import { ExitCode, type Io } from '../output.ts';

const PREVIEW_RUN_ID = '<run-id>';

/** Prints the plan; every connection is read-only, so nothing changes. */
export async function planCommand(file: string, io: Io): Promise<number> {
  const config = await loadPipelineFile(file);
  assertSupported(config);
  let source: Db | undefined;
  let target: Db | undefined;
  try {
    source = await openConnection(config.source, { readOnly: true });
    target = await openConnection(config.sink, { readOnly: true });
    const { plan, chunks } = await computePlan(source, target, config, PREVIEW_RUN_ID);
    const label = strategyLabel(config);
    io.out(`-- pipeline ${config.name}: ${label.mode} / ${label.strategy}`);
    io.out(`-- window: none (incremental_strategy ${config.source.options.incremental_strategy}: every row)`);
    io.out(`-- columns: ${plan.columns.map((c) => `${c.name} ${c.type}`).join(', ')}`);
    io.out(`-- chunks: ${chunks.length}${plan.chunkColumn ? ` on ${plan.chunkColumn.name} (${plan.chunkColumn.type})` : ''}`);
    for (const statement of await runStatements(target, config, plan, chunks)) io.out(statement.endsWith('\n') ? statement : `${statement};`);
    return ExitCode.ok;
  } finally {
    await close(source);
    await close(target);
  }
}

/** Every statement of a run, in order, with `--` comments naming the task that runs it. */
async function runStatements(target: Db, config: PipelineConfig, plan: RunPlan, chunks: readonly ChunkBounds[]): Promise<string[]> {
  const schema = config.state.schema;
  const { staging, done } = stagingTables(plan);
  const columns = plan.columns.map((c) => c.name);
  const out: string[] = ['\n-- Plan (state database)\n', ...stateSchemaSql(schema), acquireLeaseSql(schema, config.name, PREVIEW_RUN_ID).text];
  out.push('\n-- Plan (target): staging\n', ...createStagingSql(staging, done, plan.columns, { pipeline: config.name, runId: PREVIEW_RUN_ID, logged: isExchange(config) }));
  chunks.forEach((bounds, i) => {
    const range = plan.chunkColumn ? chunkPredicate(plan.chunkColumn, bounds) : undefined;
    const select = sourceSelect(config.source, columns, [...extractionPredicates(config), ...(range ? [range] : [])]);
    out.push(`\n-- ExtractChunk ${i} (source -> target, one target transaction)\n`, copyToSql(select), copyFromSql(staging, columns));
  });
  out.push('\n-- Apply (one target transaction)\n', 'BEGIN', fenceSql(schema, config.name, PREVIEW_RUN_ID).text);
  if (isExchange(config)) {
    const catalog = await readTargetCatalog(target, config.sink.table);
    const exchange = exchangeStatements(catalog, config.sink.table, staging, 'pgf_preview');
    out.push(...exchange.prepare, ...exchange.swap);
  } else {
    if (!plan.targetExists) out.push(createTableSql(config.sink.table, plan.columns));
    out.push(...truncateInsertSql(config.sink.table, staging, plan.columns));
  }
  out.push(...completeRunSql(schema).map((s) => s.text), 'COMMIT');
  out.push('\n-- Finalize (target)\n', ...dropStagingSql(staging, done));
  out.push(`\n-- target: ${qualified(config.sink.table)}${plan.targetExists ? '' : ' (created by the run)'}\n`);
  return out;
}

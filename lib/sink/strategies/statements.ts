/**
 * Runs a strategy's statement plan (see ./types.ts), or prints it: the one place where the steps a strategy
 * yields become executed statements or the lines of `pgferry plan`.
 */
import type pg from 'pg';
import { execute, query, type Db, type Statement } from '../../db/index.ts';
import { literal } from '../../sql/quote.ts';
import type { TaskLogger } from '../../log.ts';
import type { Step, Strategy, StrategyResult, StrategySpec } from './types.ts';

/** A plan of steps that returns R (a strategy's returns its StrategyResult). */
type Plan<R> = AsyncGenerator<Step, R, pg.QueryResult | undefined>;

/** Executes every step on `db` in order, handing each statement's result back to the plan; returns what the plan returns. */
export async function runStatements<R = StrategyResult>(db: Db, statements: Plan<R>): Promise<R> {
  let next = await statements.next(undefined);
  while (!next.done) {
    const step: Step = next.value;
    if ('sql' in step) next = await statements.next(await query(db, step.sql, step.what));
    else {
      if ('batch' in step) await execute(db, step.batch, step.what);
      next = await statements.next(undefined);
    }
  }
  return next.value;
}

/** The SQL text of every step, notes included, executing nothing. */
export async function printStatements(statements: Plan<unknown>): Promise<string[]> {
  const out: string[] = [];
  let next = await statements.next(undefined);
  while (!next.done) {
    out.push(...stepText(next.value));
    next = await statements.next(undefined);
  }
  return out;
}

/** What `pgferry plan` prints for one step. */
export function stepText(step: Step): string[] {
  if ('note' in step) return [step.note];
  return ('sql' in step ? [step.sql] : step.batch).map(statementText);
}

/** A statement as `pgferry plan` prints it: its parameters written in as literals. */
export function statementText(statement: Statement | string): string {
  if (typeof statement === 'string') return statement;
  const values = statement.values ?? [];
  return statement.text.replace(/\$(\d+)/g, (whole, n: string) => {
    const index = Number(n) - 1;
    return index < values.length ? valueText(values[index]) : whole;
  });
}

function valueText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Array.isArray(value)) return `ARRAY[${value.map(valueText).join(', ')}]`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return literal(typeof value === 'string' ? value : JSON.stringify(value));
}

/** A strategy whose `apply` executes its statement plan and whose `describe` prints the same plan. */
export function defineStrategy(spec: StrategySpec): Strategy {
  return {
    ...spec,
    apply: (ctx) => runStatements(ctx.db, spec.statements({ ...ctx, describing: false })),
    describe: (db, config, plan, staging) =>
      printStatements(
        spec.statements({
          db,
          config,
          plan,
          staging,
          stagedRows: undefined,
          cursorBefore: undefined,
          log: SILENT_LOG,
          describing: true,
        }),
      ),
  };
}

/** Describing logs nothing: the plan's log lines say what a run did. */
export const SILENT_LOG: TaskLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Rules that tie several keys together. They read the document as written (not zod's output),
 * so they still report when another key has a type error: every problem of a file comes at once.
 * A value of the wrong type is skipped here; the schema reports it.
 */
import { describeValue, type RawProblem } from './messages.ts';
import { INCREMENTAL_STRATEGIES, NULL_CURSOR_POLICIES } from './types.ts';
import { lookbackIsPositive, postgresUrlProblem, secretIdProblem } from './values.ts';

type Mapping = Record<string, unknown>;

/** One cross-field rule: what it finds wrong in a document. */
type Rule = (document: Mapping) => RawProblem[];

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The mapping under `key`, or an empty one when it is missing or not a mapping. */
function section(parent: Mapping, key: string): Mapping {
  const value = parent[key];
  return isMapping(value) ? value : {};
}

/** The incremental strategy in force, or undefined when the value is invalid. */
function incrementalStrategy(document: Mapping): string | undefined {
  const value = section(section(document, 'source'), 'options').incremental_strategy ?? 'none';
  return typeof value === 'string' && (INCREMENTAL_STRATEGIES as readonly string[]).includes(value) ? value : undefined;
}

const tableOrQuery: Rule = (document) => {
  if (!isMapping(document.source)) return [];
  const { table, query } = document.source;
  if (table === undefined && query === undefined) return [{ path: ['source'], message: 'one of table or query is required' }];
  if (table !== undefined && query !== undefined) {
    return [{ path: ['source', 'query'], message: 'not allowed together with source.table; give exactly one of table and query' }];
  }
  return [];
};

const incrementalKeys: Rule = (document) => {
  const source = section(document, 'source');
  const options = section(source, 'options');
  const strategy = incrementalStrategy(document);
  const at = (key: string) => ['source', 'options', key];
  const problems: RawProblem[] = [];
  if (strategy === 'column') {
    if (options.incremental_column === undefined) problems.push({ path: at('incremental_column'), message: 'required when incremental_strategy is column' });
    return problems;
  }
  if (strategy === undefined) return problems;
  const onlyWithColumn = `not allowed when incremental_strategy is ${strategy}; only with column`;
  if (options.incremental_column !== undefined) problems.push({ path: at('incremental_column'), message: onlyWithColumn });
  if (lookbackIsPositive(options.lookback)) problems.push({ path: at('lookback'), message: onlyWithColumn });
  const nullCursor = options.null_cursor;
  if (typeof nullCursor === 'string' && nullCursor !== 'fail' && (NULL_CURSOR_POLICIES as readonly string[]).includes(nullCursor)) {
    problems.push({ path: at('null_cursor'), message: onlyWithColumn });
  }
  if (strategy === 'xmin' && source.table === undefined && source.query !== undefined) {
    problems.push({ path: at('incremental_strategy'), message: 'xmin needs source.table; a query has no xmin' });
  }
  return problems;
};

/**
 * xmin windows can re-read rows frozen more than 2^32 transactions ago (their raw 32-bit xmin may fall in a
 * later window) and a first run reads rows committed while it runs; only a key filter keeps append exact.
 */
const xminAppendNeedsNewRows: Rule = (document) => {
  const strategy = section(section(document, 'sink'), 'strategy');
  if (strategy.mode !== 'incremental_append' || incrementalStrategy(document) !== 'xmin' || strategy.only_new_rows === true) return [];
  return [
    {
      path: ['sink', 'strategy', 'only_new_rows'],
      message:
        'must be true with incremental_strategy xmin (an xmin window can re-read a row already loaded; only_new_rows with unique_key filters it out); or use incremental_merge',
    },
  ];
};

const appendNeedsKey: Rule = (document) => {
  const strategy = section(section(document, 'sink'), 'strategy');
  if (strategy.mode !== 'incremental_append' || strategy.unique_key !== undefined) return [];
  const problems: RawProblem[] = [];
  if (strategy.only_new_rows === true) {
    problems.push({ path: ['sink', 'strategy', 'unique_key'], message: 'required when only_new_rows is true' });
  }
  if (strategy.duplicate_policy === 'keep_last') {
    problems.push({ path: ['sink', 'strategy', 'duplicate_policy'], message: 'keep_last needs sink.strategy.unique_key (the key rows are deduplicated by)' });
  }
  const options = section(section(document, 'source'), 'options');
  // The lookback overlap would load rows twice, and plain append has no key to filter them by (docs/strategies.md).
  if (incrementalStrategy(document) === 'column' && lookbackIsPositive(options.lookback)) {
    problems.push({
      path: ['source', 'options', 'lookback'],
      message: 'a lookback re-reads rows already loaded, so with mode incremental_append it needs sink.strategy.unique_key; or use incremental_merge',
    });
  }
  return problems;
};

const columnsProjected: Rule = (document) => {
  const source = section(document, 'source');
  const columns = source.columns;
  if (!Array.isArray(columns) || !columns.every((column) => typeof column === 'string')) return [];
  const problems: RawProblem[] = [];
  const check = (path: PropertyKey[], column: unknown) => {
    if (typeof column === 'string' && !columns.includes(column)) {
      problems.push({ path, message: `column ${describeValue(column)} is not in source.columns` });
    }
  };
  if (incrementalStrategy(document) === 'column') {
    check(['source', 'options', 'incremental_column'], section(source, 'options').incremental_column);
  }
  const strategy = section(section(document, 'sink'), 'strategy');
  if ((strategy.mode === 'incremental_append' || strategy.mode === 'incremental_merge') && Array.isArray(strategy.unique_key)) {
    strategy.unique_key.forEach((column: unknown, index) => check(['sink', 'strategy', 'unique_key', index], column));
  }
  if (strategy.mode === 'partition_replace') check(['sink', 'strategy', 'partition', 'column'], section(strategy, 'partition').column);
  return problems;
};

const connectionIds: Rule = (document) => {
  const problems: RawProblem[] = [];
  for (const name of ['source', 'sink', 'state'] as const) {
    if (!isMapping(document[name])) continue;
    const connection = document[name];
    const id = connection.connection_id;
    if (name === 'state' && id === undefined) {
      for (const key of ['connection_type', 'connection_params']) {
        if (connection[key] !== undefined) {
          problems.push({ path: [name, key], message: "only together with state.connection_id; without it the state uses the sink's connection" });
        }
      }
      continue;
    }
    if (typeof id !== 'string' || id.trim() === '') continue;
    const type = connection.connection_type ?? 'secretsmanager';
    const problem = type === 'url' ? postgresUrlProblem(id) : type === 'secretsmanager' ? secretIdProblem(id) : undefined;
    if (problem !== undefined) problems.push({ path: [name, 'connection_id'], message: problem });
  }
  return problems;
};

const RULES: readonly Rule[] = [tableOrQuery, incrementalKeys, appendNeedsKey, xminAppendNeedsNewRows, columnsProjected, connectionIds];

/** Every cross-field problem of a document (already free of YAML nulls). */
export function crossFieldProblems(document: Mapping): RawProblem[] {
  return RULES.flatMap((rule) => rule(document));
}

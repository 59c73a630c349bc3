/**
 * Pipeline files that list many tables (`tables:` with `defaults:`, docs/pipeline-file.md "Many tables"). Each
 * entry is composed with the file's connections and the defaults into a single-table document and validated
 * exactly as a single-table file is, with every problem's path traced back to the key that holds the value
 * (`tables[3].strategy.unique_key`, `defaults.options.chunk_rows`). Which tables a pattern names is learnt at
 * plan time from the source catalog; {@link tableConfig} then makes one table's PipelineConfig.
 */
import { ConfigError } from '../errors.ts';
import { describeValue, fallbackMessage, issuesToProblems, type RawProblem } from './messages.ts';
import { crossFieldProblems } from './rules.ts';
import { PipelineSchema } from './schema.ts';
import { identifierProblem } from './values.ts';
import { exactPattern, formatTableName, isTablePattern, parseTableName, parseTablePattern, type TablePattern } from './table-name.ts';
import { CONFIG_DEFAULTS, type ConnectionConfig, type PipelineConfig, type ScheduleConfig, type StateConfig, type TableRef } from './types.ts';

type Mapping = Record<string, unknown>;

/** Keys an entry (and `defaults`) may set; everything else belongs to the file. */
const ENTRY_KEYS = ['table', 'exclude', 'target', 'columns', 'options', 'strategy', 'create_table'] as const;
const DEFAULT_KEYS = ['target', 'columns', 'options', 'strategy', 'create_table'] as const;

/** Keys of a single-table file that a `tables:` file sets per entry, and where they go instead. */
const PER_TABLE: readonly { path: readonly string[]; instead: string }[] = [
  { path: ['source', 'table'], instead: 'tables[n].table' },
  { path: ['source', 'query'], instead: 'a single-table file (a query is not a table of a tables: file)' },
  { path: ['source', 'columns'], instead: 'defaults.columns or tables[n].columns' },
  { path: ['source', 'options'], instead: 'defaults.options or tables[n].options' },
  { path: ['sink', 'table'], instead: 'defaults.target or tables[n].target' },
  { path: ['sink', 'strategy'], instead: 'defaults.strategy or tables[n].strategy' },
  { path: ['sink', 'create_table'], instead: 'defaults.create_table or tables[n].create_table' },
];

/** Stands for a table until plan time; never reaches SQL. */
const PLACEHOLDER: TableRef = { schema: 'public', name: 'pgferry_table' };
/** Stands for the primary key of a table whose entry leaves unique_key out. */
const PRIMARY_KEY = 'pgferry_primary_key';

/** At most this many tables of a file run at once. */
export const MAX_PARALLEL_TABLES = 40;

/** One entry of `tables:`, validated. */
export interface TableEntry {
  /** Position in `tables:`. */
  readonly index: number;
  /** The entry's `table` as written (`sales.*`, `sales.orders`). */
  readonly text: string;
  readonly match: TablePattern;
  readonly exclude: readonly TablePattern[];
  /** The entry names one table (no wildcard). */
  readonly exact: boolean;
  /** The entry's single-table config; source.table and sink.table are placeholders until a table is known. */
  readonly template: PipelineConfig;
  /** `target` as given: the schema (default: the source table's) and, for an exact entry only, the name. */
  readonly target: { readonly schema?: string; readonly name?: string };
  /** unique_key was left out: the table's primary key is the key, read at plan time. */
  readonly keyFromPrimaryKey: boolean;
}

/** A pipeline file that lists tables. */
export interface TablesFile {
  /** The path it was read from, for messages. */
  readonly file: string;
  readonly name: string;
  readonly schedule?: ScheduleConfig;
  /** @default 4 */
  readonly max_parallel_tables: number;
  readonly source: ConnectionConfig & { readonly type: 'postgres' };
  readonly sink: ConnectionConfig & { readonly type: 'postgres'; readonly staging: { readonly schema: string } };
  readonly state: StateConfig;
  readonly entries: readonly TableEntry[];
}

/** A pipeline file of either form. */
export type PipelineFile = { readonly kind: 'single'; readonly config: PipelineConfig } | ({ readonly kind: 'tables' } & TablesFile);

/** The state key of a table of a file: `<file>/<schema.name>` (a pipeline name cannot hold `/`). */
export function tableKey(file: string, ref: TableRef): string {
  return `${file}/${formatTableName(ref)}`;
}

/**
 * The PipelineConfig of one table of a file, matched by `entry`; `primaryKey`: the source table's, when the entry
 * takes its key from it. ConfigError, naming the table and what to set, when the entry needs a key and the table
 * has no primary key.
 */
export function tableConfig(file: TablesFile, entry: TableEntry, ref: TableRef, primaryKey: readonly string[] | null | undefined): PipelineConfig {
  const template = entry.template;
  let strategy = template.sink.strategy;
  if (entry.keyFromPrimaryKey && (strategy.mode === 'incremental_merge' || strategy.mode === 'incremental_append')) {
    if (!primaryKey || primaryKey.length === 0) {
      throw new ConfigError([
        {
          file: file.file,
          path: `tables[${entry.index}].strategy.unique_key`,
          message: `table ${formatTableName(ref)} has no primary key, which mode ${strategy.mode} takes as its unique_key when the entry gives none; give the table an entry of its own with strategy.unique_key, or mode full_refresh`,
        },
      ]);
    }
    strategy = { ...strategy, unique_key: [...primaryKey] };
  }
  const target = { schema: entry.target.schema ?? ref.schema, name: entry.target.name ?? ref.name };
  return {
    ...template,
    name: tableKey(file.name, ref),
    source: { ...template.source, table: { ...ref } },
    sink: { ...template.sink, table: target, strategy },
    table: { file: file.name, ref: { ...ref }, entry: entry.index },
  };
}

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function section(parent: unknown, key: string): Mapping {
  const value = isMapping(parent) ? parent[key] : undefined;
  return isMapping(value) ? value : {};
}

function has(parent: unknown, key: PropertyKey | undefined): boolean {
  return key !== undefined && isMapping(parent) && Object.hasOwn(parent, key) && parent[key as string] !== undefined;
}

/** The document without what a `tables:` file sets per entry (refused where it stands) and without its own keys. */
function fileLevel(document: Mapping, problems: RawProblem[]): Mapping {
  const { tables: _tables, defaults: _defaults, max_parallel_tables: _max, ...rest } = document;
  const out: Mapping = { ...rest, source: { ...section(document, 'source') }, sink: { ...section(document, 'sink') } };
  for (const { path, instead } of PER_TABLE) {
    const [top = '', key = ''] = path;
    const parent = out[top] as Mapping;
    if (has(parent, key)) {
      problems.push({ path, message: `not allowed in a file with tables; put it under ${instead}` });
      delete parent[key];
    }
  }
  return out;
}

/** A strategy of the defaults and an entry: merged key by key for the same mode, the entry's whole for another. */
function mergeStrategy(defaults: Mapping, entry: Mapping): { strategy: Mapping | undefined; fromDefaults: Set<string> } {
  const d = section(defaults, 'strategy');
  const e = section(entry, 'strategy');
  const hasD = has(defaults, 'strategy');
  const hasE = has(entry, 'strategy');
  if (!hasE) return { strategy: hasD ? d : undefined, fromDefaults: new Set(Object.keys(d)) };
  if (!hasD || (e.mode !== undefined && e.mode !== d.mode)) return { strategy: entry.strategy as Mapping, fromDefaults: new Set() };
  return { strategy: { ...d, ...e }, fromDefaults: new Set(Object.keys(d).filter((k) => !has(e, k))) };
}

/** Key names inside messages, as an entry writes them. */
function entryWording(message: string): string {
  return message
    .replaceAll('sink.strategy.', 'strategy.')
    .replaceAll('source.options.', 'options.')
    .replaceAll('source.columns', 'columns')
    .replaceAll('sink.create_table', 'create_table')
    .replaceAll('sink.table', 'target');
}

/** Where a problem of entry `i`'s composed document comes from in the file. */
function origin(path: readonly PropertyKey[], i: number, entry: Mapping, defaults: Mapping, fromDefaults: Set<string>): readonly PropertyKey[] | undefined {
  const [top, key, ...rest] = path;
  const sectionOf = (name: string, tail: readonly PropertyKey[], fromD: boolean): readonly PropertyKey[] => {
    const first = tail[0];
    if (first !== undefined && has(section(entry, name), first)) return ['tables', i, name, ...tail];
    if (first !== undefined && fromD && has(section(defaults, name), first)) return ['defaults', name, ...tail];
    return ['tables', i, name, ...tail];
  };
  const whole = (name: string, tail: readonly PropertyKey[]): readonly PropertyKey[] =>
    has(entry, name) || !has(defaults, name) ? ['tables', i, name, ...tail] : ['defaults', name, ...tail];
  if (top === 'source' && key === 'options') return sectionOf('options', rest, true);
  if (top === 'source' && key === 'columns') return whole('columns', rest);
  if (top === 'source' && key === 'table') return ['tables', i, 'table'];
  if (top === 'source' && key === undefined) return ['tables', i];
  if (top === 'sink' && key === 'strategy') return sectionOf('strategy', rest, fromDefaults.has(String(rest[0])));
  if (top === 'sink' && key === 'table') return ['tables', i, 'target', ...rest];
  if (top === 'sink' && key === 'create_table') return whole('create_table', rest);
  // Everything else is the file's, reported once by the file-level check.
  return undefined;
}

/** The entry's `table` (or an exclude): a name or pattern as text, or an exact {schema, name}. */
function readTable(value: unknown, path: readonly PropertyKey[], problems: RawProblem[]): { pattern: TablePattern; exact: boolean; text: string } | undefined {
  if (isMapping(value)) {
    const { schema = CONFIG_DEFAULTS.tableSchema, name, ...other } = value;
    for (const key of Object.keys(other)) problems.push({ path: [...path, key], message: 'unknown key; allowed: schema, name' });
    if (typeof schema !== 'string' || schema === '')
      problems.push({ path: [...path, 'schema'], message: `expected a schema name, got ${describeValue(schema)}` });
    if (typeof name !== 'string' || name === '')
      problems.push({ path: [...path, 'name'], message: `required; expected a table name, got ${describeValue(name)}` });
    if (typeof schema !== 'string' || typeof name !== 'string' || schema === '' || name === '') return undefined;
    const long = identifierProblem(schema) ?? identifierProblem(name);
    if (long !== undefined) {
      problems.push({ path, message: long });
      return undefined;
    }
    const ref = { schema, name };
    return { pattern: exactPattern(ref), exact: true, text: formatTableName(ref) };
  }
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push({
      path,
      message: `${value === undefined ? 'required; expected' : 'expected'} a table as schema.name, a pattern such as "sales.*", or {schema, name}${value === undefined ? '' : `, got ${describeValue(value)}`}`,
    });
    return undefined;
  }
  if (isTablePattern(value)) {
    const pattern = parseTablePattern(value);
    if ('problem' in pattern) {
      problems.push({ path, message: pattern.problem });
      return undefined;
    }
    return { pattern, exact: false, text: value };
  }
  const ref = parseTableName(value);
  if ('problem' in ref) {
    problems.push({ path, message: ref.problem });
    return undefined;
  }
  const long = identifierProblem(ref.schema) ?? identifierProblem(ref.name);
  if (long !== undefined) {
    problems.push({ path, message: long });
    return undefined;
  }
  return { pattern: exactPattern(ref), exact: true, text: value };
}

/** Checks a `tables:` document; the file when there is no problem. Problems carry paths of the document as written. */
export function checkTablesDocument(document: Mapping, file: string): { file?: TablesFile; problems: RawProblem[] } {
  const problems: RawProblem[] = [];
  const base = fileLevel(document, problems);

  // The file's own keys, checked once through the single-table schema with a placeholder table and strategy.
  const probe = {
    ...base,
    source: { ...section(base, 'source'), table: PLACEHOLDER },
    sink: { ...section(base, 'sink'), table: PLACEHOLDER, strategy: { mode: 'full_refresh' } },
  };
  const parsed = PipelineSchema.safeParse(probe, { error: fallbackMessage });
  if (!parsed.success) problems.push(...issuesToProblems(parsed.error.issues, probe));
  problems.push(...crossFieldProblems(probe));

  const max = document.max_parallel_tables ?? 4;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_PARALLEL_TABLES) {
    problems.push({ path: ['max_parallel_tables'], message: `expected an integer from 1 to ${MAX_PARALLEL_TABLES}, got ${describeValue(max)}` });
  }

  const defaults = document.defaults === undefined ? {} : document.defaults;
  if (!isMapping(defaults)) problems.push({ path: ['defaults'], message: `expected a mapping (${DEFAULT_KEYS.join(', ')}), got ${describeValue(defaults)}` });
  else {
    for (const key of Object.keys(defaults)) {
      if (!(DEFAULT_KEYS as readonly string[]).includes(key))
        problems.push({ path: ['defaults', key], message: `unknown key; allowed: ${DEFAULT_KEYS.join(', ')}` });
    }
    if (has(section(defaults, 'target'), 'name')) {
      problems.push({
        path: ['defaults', 'target', 'name'],
        message: 'not allowed: every table keeps its own name unless its entry names one table and sets target.name',
      });
    }
  }
  const d = isMapping(defaults) ? defaults : {};

  const list = document.tables;
  if (!Array.isArray(list) || list.length === 0) {
    problems.push({ path: ['tables'], message: `expected a non-empty list of entries ({table, ...}), got ${describeValue(list)}` });
    return { problems: dedupe(problems) };
  }

  const entries: TableEntry[] = [];
  const exactSeen = new Map<string, number>();
  list.forEach((raw, i) => {
    if (!isMapping(raw)) {
      problems.push({ path: ['tables', i], message: `expected a mapping {table, target, options, strategy ...}, got ${describeValue(raw)}` });
      return;
    }
    const before = problems.length;
    for (const key of Object.keys(raw)) {
      if (!(ENTRY_KEYS as readonly string[]).includes(key))
        problems.push({ path: ['tables', i, key], message: `unknown key; allowed: ${ENTRY_KEYS.join(', ')}` });
    }
    const table = readTable(raw.table, ['tables', i, 'table'], problems);
    const exclude: TablePattern[] = [];
    if (raw.exclude !== undefined) {
      if (!Array.isArray(raw.exclude))
        problems.push({ path: ['tables', i, 'exclude'], message: `expected a list of table names or patterns, got ${describeValue(raw.exclude)}` });
      else
        raw.exclude.forEach((x: unknown, n) => {
          const read = readTable(x, ['tables', i, 'exclude', n], problems);
          if (read) exclude.push(read.pattern);
        });
      if (table?.exact) problems.push({ path: ['tables', i, 'exclude'], message: 'only with a pattern; this entry names one table' });
    }
    const target = { ...section(d, 'target'), ...section(raw, 'target') };
    if (has(section(raw, 'target'), 'name') && table && !table.exact) {
      problems.push({ path: ['tables', i, 'target', 'name'], message: "only on an entry naming one table; a pattern's tables keep their own names" });
    }
    if (table?.exact && !('problem' in parseTableName(table.text))) {
      const key = table.text;
      const first = exactSeen.get(key);
      if (first !== undefined)
        problems.push({ path: ['tables', i, 'table'], message: `${key} is already tables[${first}]'s; a table goes to the first entry that names it` });
      else exactSeen.set(key, i);
    }

    // The entry as a single-table document.
    const { strategy, fromDefaults } = mergeStrategy(d, raw);
    let keyFromPrimaryKey = false;
    let merged = strategy;
    if (isMapping(strategy) && strategy.unique_key === undefined) {
      const needsKey =
        strategy.mode === 'incremental_merge' ||
        (strategy.mode === 'incremental_append' && (strategy.only_new_rows === true || strategy.duplicate_policy === 'keep_last'));
      if (needsKey) {
        keyFromPrimaryKey = true;
        merged = { ...strategy, unique_key: [PRIMARY_KEY] };
      }
    }
    const columns = has(raw, 'columns') ? raw.columns : d.columns;
    const createTable = has(raw, 'create_table') ? raw.create_table : d.create_table;
    const composed: Mapping = {
      ...base,
      source: {
        ...section(base, 'source'),
        table: PLACEHOLDER,
        ...(columns !== undefined ? { columns } : {}),
        options: { ...section(d, 'options'), ...section(raw, 'options') },
      },
      sink: {
        ...section(base, 'sink'),
        table: { schema: typeof target.schema === 'string' ? target.schema : PLACEHOLDER.schema, name: target.name ?? PLACEHOLDER.name },
        ...(createTable !== undefined ? { create_table: createTable } : {}),
        ...(merged !== undefined ? { strategy: merged } : {}),
      },
    };
    const result = PipelineSchema.safeParse(composed, { error: fallbackMessage });
    const found = [...(result.success ? [] : issuesToProblems(result.error.issues, composed)), ...crossFieldProblems(composed)];
    for (const problem of found) {
      // The placeholder of a key taken from the primary key, and a strategy given nowhere (reported below), are not the user's.
      if (problem.message.includes(PRIMARY_KEY) || problem.path.includes(PRIMARY_KEY)) continue;
      if (merged === undefined && problem.path[0] === 'sink' && problem.path[1] === 'strategy') continue;
      const path = origin(problem.path, i, raw, d, fromDefaults);
      if (path !== undefined) problems.push({ path, message: entryWording(problem.message) });
    }
    if (merged === undefined) problems.push({ path: ['tables', i, 'strategy'], message: 'required (here or under defaults.strategy)' });
    if (problems.length > before || !result.success || !table) return;
    entries.push({
      index: i,
      text: table.text,
      match: table.pattern,
      exclude,
      exact: table.exact,
      template: result.data,
      target: {
        ...(typeof target.schema === 'string' ? { schema: target.schema } : {}),
        ...(typeof target.name === 'string' && table.exact ? { name: target.name } : {}),
      },
      keyFromPrimaryKey,
    });
  });

  const all = dedupe(problems);
  if (all.length > 0 || !parsed.success) return { problems: all };
  const config = parsed.data;
  return {
    problems: [],
    file: {
      file,
      name: config.name,
      ...(config.schedule ? { schedule: config.schedule } : {}),
      max_parallel_tables: max as number,
      source: {
        type: 'postgres',
        connection_id: config.source.connection_id,
        connection_type: config.source.connection_type,
        connection_params: config.source.connection_params,
      },
      sink: {
        type: 'postgres',
        connection_id: config.sink.connection_id,
        connection_type: config.sink.connection_type,
        connection_params: config.sink.connection_params,
        staging: config.sink.staging,
      },
      state: config.state,
      entries,
    },
  };
}

/** A problem of the defaults shows in every entry: reported once. */
function dedupe(problems: readonly RawProblem[]): RawProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path.map(String).join('\u0000')}\u0001${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * What a table machine's execution carries as its `pipeline`: the table's state key, its entry and the primary key
 * the resolution read, as JSON, so every task of the run rebuilds the same config without reading the catalog.
 */
export function tableRunRef(key: string, entry: number, primaryKey: readonly string[] | null | undefined): string {
  return JSON.stringify({ key, entry, primaryKey: primaryKey ?? null });
}

/** The state key a task's `pipeline` names: a table run reference's key, else the pipeline name itself. */
export function pipelineKeyOf(pipeline: string): string {
  if (!isTableRunRef(pipeline)) return pipeline;
  try {
    const key = (JSON.parse(pipeline) as { key?: unknown }).key;
    return typeof key === 'string' ? key : pipeline;
  } catch {
    return pipeline;
  }
}

/** Whether a task's `pipeline` is a table run's reference ({@link tableRunRef}) rather than a pipeline name. */
export function isTableRunRef(pipeline: string): boolean {
  return pipeline.startsWith('{');
}

/** The config of a table run from its reference; ConfigError when it does not name a table of `file`. */
export function configForRef(file: TablesFile, text: string): PipelineConfig {
  const bad = (why: string): ConfigError => new ConfigError([{ file: file.file, path: 'tables', message: `table run ${text}: ${why}` }]);
  let ref: { key?: unknown; entry?: unknown; primaryKey?: unknown };
  try {
    ref = JSON.parse(text) as typeof ref;
  } catch {
    throw bad('not a table run reference');
  }
  if (typeof ref.key !== 'string' || !ref.key.startsWith(`${file.name}/`)) throw bad(`not a table of pipeline ${file.name}`);
  const table = parseTableName(ref.key.slice(file.name.length + 1));
  if ('problem' in table) throw bad(table.problem);
  const entry = file.entries.find((e) => e.index === ref.entry);
  if (!entry) throw bad(`the file has no entry ${String(ref.entry)} now; redeploy, then run the file again`);
  const primaryKey = Array.isArray(ref.primaryKey) && ref.primaryKey.every((c) => typeof c === 'string') ? (ref.primaryKey as string[]) : null;
  return tableConfig(file, entry, table, primaryKey);
}

/** A TablesFile as JSON can hold it (the bundled pipelines of a deployment): its patterns as the text they were read from. */
export type PortableTablesFile = Omit<TablesFile, 'entries'> & {
  readonly entries: readonly (Omit<TableEntry, 'match' | 'exclude'> & { readonly match: string; readonly exclude: readonly string[] })[];
};

/** The JSON form of a file (see {@link fromPortableFile}). */
export function toPortableFile(file: TablesFile): PortableTablesFile {
  return { ...file, entries: file.entries.map((e) => ({ ...e, match: e.match.text, exclude: e.exclude.map((p) => p.text) })) };
}

/** A file back from its JSON form; ConfigError when a pattern no longer reads (a bundle written by another version). */
export function fromPortableFile(file: PortableTablesFile): TablesFile {
  const pattern = (text: string): TablePattern => {
    const read = isTablePattern(text) ? parseTablePattern(text) : parseTableName(text);
    if ('problem' in read) throw new ConfigError([{ file: file.file, path: 'tables', message: `${text}: ${read.problem}; redeploy to regenerate the bundle` }]);
    return 'text' in read ? read : exactPattern(read);
  };
  return { ...file, entries: file.entries.map((e) => ({ ...e, match: pattern(e.match), exclude: e.exclude.map(pattern) })) };
}

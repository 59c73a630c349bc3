/**
 * Reading pipeline files: YAML, then the schema, then the cross-field rules, with every problem
 * of a file (or of a directory) gathered into one ConfigError, in the order they appear in the file.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, parseDocument, type Document, type YAMLError } from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { describeValue, fallbackMessage, formatPath, issuesToProblems, redactSecrets, type RawProblem } from './messages.ts';
import { crossFieldProblems } from './rules.ts';
import { PipelineSchema, type PipelineConfig } from './schema.ts';
import { checkTablesDocument, type PipelineFile, type TablesFile } from './tables.ts';

/** The outcome of checking one file; `name` is read even from an invalid file, to find duplicates. */
interface Checked {
  config?: PipelineConfig;
  tables?: TablesFile;
  name?: string;
  problems: ConfigProblem[];
}

/** Parses and validates the text of a single-table pipeline file; throws ConfigError listing every problem. */
export function parsePipeline(text: string, file: string): PipelineConfig {
  const parsed = parsePipelineFile(text, file);
  if (parsed.kind === 'tables') {
    throw new ConfigError([
      { file, path: 'tables', message: 'this file lists tables; it is read where files of many tables are (pgferry run, plan, validate)' },
    ]);
  }
  return parsed.config;
}

/** Parses and validates the text of a pipeline file of either form; throws ConfigError listing every problem. */
export function parsePipelineFile(text: string, file: string): PipelineFile {
  const checked = checkPipeline(text, file);
  if (checked.tables !== undefined) return { kind: 'tables', ...checked.tables };
  if (checked.config === undefined) throw new ConfigError(checked.problems);
  return { kind: 'single', config: checked.config };
}

/** Reads, parses and validates a pipeline file of either form. */
export async function loadPipelineSource(path: string): Promise<PipelineFile> {
  return parsePipelineFile(await readText(path), path);
}

/** Reads, parses and validates one pipeline file. */
export async function loadPipelineFile(path: string): Promise<PipelineConfig> {
  return parsePipeline(await readText(path), path);
}

/** Reads every `*.yaml` / `*.yml` file of a directory (not recursively); problems of all files, and duplicate names, come in one ConfigError. */
export async function loadPipelineDir(dir: string): Promise<PipelineConfig[]> {
  const files = await loadPipelineFiles(dir);
  const tables = files.filter((f) => f.kind === 'tables');
  if (tables.length > 0) {
    throw new ConfigError(
      tables.map((f) => ({ file: f.file, path: 'tables', message: 'this file lists tables; it is read where files of many tables are (loadPipelineFiles)' })),
    );
  }
  return files.flatMap((f) => (f.kind === 'single' ? [f.config] : []));
}

/** Reads every pipeline file of a directory, of either form; problems of all files, and duplicate names, come in one ConfigError. */
export async function loadPipelineFiles(dir: string): Promise<PipelineFile[]> {
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries
      .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && /\.ya?ml$/i.test(entry.name) && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    throw new ConfigError([{ file: dir, path: '', message: readFailure(error, 'directory') }], { cause: error });
  }
  const loaded: PipelineFile[] = [];
  const problems: ConfigProblem[] = [];
  const fileOfName = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, name);
    let checked: Checked;
    try {
      checked = checkPipeline(await readText(file), file);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      continue;
    }
    problems.push(...checked.problems);
    if (checked.config !== undefined) loaded.push({ kind: 'single', config: checked.config });
    if (checked.tables !== undefined) loaded.push({ kind: 'tables', ...checked.tables });
    if (checked.name === undefined) continue;
    const first = fileOfName.get(checked.name);
    if (first === undefined) fileOfName.set(checked.name, file);
    else problems.push({ file, path: 'name', message: `pipeline ${JSON.stringify(checked.name)} is also defined in ${first}; names must be unique` });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ file, path: '', message: readFailure(error, 'file') }], { cause: error });
  }
}

function readFailure(error: unknown, kind: 'file' | 'directory'): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `${kind} not found`;
  if (code === 'EISDIR') return 'is a directory; expected a pipeline file';
  if (code === 'ENOTDIR') return 'is not a directory';
  if (code === 'EACCES' || code === 'EPERM') return `${kind} cannot be read: permission denied`;
  return `${kind} cannot be read: ${error instanceof Error ? error.message : String(error)}`;
}

/** Every problem of one file's text, and the config when there are none. */
function checkPipeline(text: string, file: string): Checked {
  const tie = (raw: readonly RawProblem[]): ConfigProblem[] =>
    raw.map((problem) => ({ file, path: formatPath(problem.path), message: redactSecrets(problem.message) }));

  const lines = new LineCounter();
  const yaml = parseDocument(text, { lineCounter: lines, prettyErrors: true, merge: true });
  if (yaml.errors.length > 0) return { problems: tie(yaml.errors.map((error) => ({ path: [], message: syntaxMessage(error) }))) };

  let data: unknown;
  try {
    data = withoutNulls(yaml.toJS());
  } catch (error) {
    // yaml refuses documents whose aliases expand too far (a "billion laughs"); an alias inside the node it
    // names (`a: &x [*x]`) makes a cycle that no pipeline value can be.
    const why =
      error instanceof RangeError
        ? 'an alias (*name) refers to a node that contains it; a pipeline file cannot hold a cycle'
        : error instanceof Error
          ? error.message
          : String(error);
    return { problems: tie([{ path: [], message: `YAML cannot be read: ${why}` }]) };
  }
  if (data === undefined || data === null || typeof data !== 'object' || Array.isArray(data)) {
    const message =
      data === undefined || data === null
        ? 'the file is empty; expected a pipeline mapping (name, source, sink ...)'
        : `expected a pipeline mapping (name, source, sink ...) at the top level, got ${describeValue(data)}`;
    return { problems: tie([{ path: [], message }]) };
  }

  const document = data as Record<string, unknown>;
  const name = typeof document.name === 'string' ? document.name : undefined;
  if (document.tables !== undefined || document.defaults !== undefined || document.max_parallel_tables !== undefined) {
    const checked = checkTablesDocument(document, file);
    const problems = tie(inFileOrder(checked.problems, yaml, lines));
    return { ...(checked.file && problems.length === 0 ? { tables: checked.file } : {}), ...(name !== undefined ? { name } : {}), problems };
  }
  const parsed = PipelineSchema.safeParse(document, { error: fallbackMessage });
  const raw = [...(parsed.success ? [] : issuesToProblems(parsed.error.issues, document)), ...crossFieldProblems(document)];
  const problems = tie(inFileOrder(raw, yaml, lines));
  return { ...(parsed.success && problems.length === 0 ? { config: parsed.data } : {}), ...(name !== undefined ? { name } : {}), problems };
}

/** `YAML syntax error: <what> at line L, column C`, without yaml's source excerpt, which could show a password. */
function syntaxMessage(error: YAMLError): string {
  // yaml's own wording names its API (`please use YAML.parseAllDocuments()`), which means nothing to a user.
  const first =
    error.code === 'MULTIPLE_DOCS'
      ? 'the file holds more than one YAML document (a second ---); a pipeline file holds exactly one pipeline'
      : (error.message.split('\n')[0] ?? '').replace(/:\s*$/, '');
  const position = error.linePos?.[0];
  const where = position !== undefined && !/ at line \d+/.test(first) ? ` at line ${position.line}, column ${position.col}` : '';
  return `YAML syntax error: ${first}${where}`;
}

/** A YAML `key:` with nothing after it means "not given", the way users write it. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

/** Sorts problems by the line of the key they name (a missing key: its parent's), keeping the order within a line. */
function inFileOrder(problems: readonly RawProblem[], yaml: Document, lines: LineCounter): RawProblem[] {
  const lineOf = (path: readonly PropertyKey[]): number => {
    for (let depth = path.length; depth > 0; depth--) {
      const node: unknown = yaml.getIn(path.slice(0, depth) as unknown[], true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range !== undefined) return lines.linePos(range[0]).line;
    }
    return 0;
  };
  return problems
    .map((problem, index) => ({ problem, index, line: lineOf(problem.path) }))
    .sort((a, b) => a.line - b.line || a.index - b.index)
    .map(({ problem }) => problem);
}

/**
 * The `schema.name` notation of a multi-table file's entries, and its patterns (`sales.*`). A part in double
 * quotes is literal, so any PostgreSQL name can be written; no case folding, as with `{schema, name}`.
 */
import type { TableRef } from './types.ts';

/** A part that needs no quotes: the same as PostgreSQL's unquoted identifiers, minus case folding. */
const PLAIN_PART = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** One run of a part as written: unquoted text (where `*` and `?` are wildcards in a pattern) or quoted, literal text. */
interface Run {
  readonly text: string;
  readonly quoted: boolean;
}

/** The parts of a text split at its unquoted dots, each a list of runs; or why it cannot be split. */
function splitParts(text: string): Run[][] | { problem: string } {
  if (text.includes('\0')) return { problem: 'a table name holds a NUL character, which no PostgreSQL name can' };
  const parts: Run[][] = [[]];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    const part = parts[parts.length - 1] as Run[];
    if (ch === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= text.length) return { problem: `"${text}" has a double quote that is never closed; inside a quoted part write "" for a double quote` };
        if (text[j] === '"') {
          if (text[j + 1] !== '"') break;
          value += '"';
          j += 2;
        } else {
          value += text[j];
          j += 1;
        }
      }
      part.push({ text: value, quoted: true });
      i = j + 1;
      continue;
    }
    if (ch === '.') {
      parts.push([]);
      i += 1;
      continue;
    }
    if (/\s/u.test(ch)) return { problem: `"${text}" has a space outside double quotes; put a part that holds spaces in double quotes` };
    let value = ch;
    i += 1;
    while (i < text.length && !/[".\s]/u.test(text[i] as string)) {
      value += text[i];
      i += 1;
    }
    part.push({ text: value, quoted: false });
  }
  if (parts.length > 2) {
    return { problem: `"${text}" has ${parts.length - 1} unquoted dots; write schema.name, with a part in double quotes if it holds a dot` };
  }
  if (parts.some((runs) => runs.every((run) => run.text === ''))) {
    const what = text === '' ? 'is empty' : parts.length === 1 ? 'has an empty name' : 'has an empty part';
    return { problem: `"${text}" ${what}; write schema.name, or name alone for schema public` };
  }
  return parts;
}

/** `[schema, name]` from the split parts: one part only means schema public. */
function schemaAndName(parts: Run[][]): [Run[], Run[]] {
  return parts.length === 1 ? [[{ text: 'public', quoted: true }], parts[0] as Run[]] : [parts[0] as Run[], parts[1] as Run[]];
}

/** `schema.name`: exactly one unquoted dot; a part in double quotes (with "" inside) is literal; no case folding; one part only means schema public. */
export function parseTableName(text: string): TableRef | { problem: string } {
  const parts = splitParts(text);
  if ('problem' in parts) return parts;
  const [schema, name] = schemaAndName(parts).map((runs) => runs.map((run) => run.text).join(''));
  return { schema: schema as string, name: name as string };
}

/** One part as written: bare when it can be, else in double quotes with `"` doubled. */
function formatPart(part: string): string {
  return PLAIN_PART.test(part) ? part : `"${part.replaceAll('"', '""')}"`;
}

/** Quotes a part unless it matches ^[A-Za-z_][A-Za-z0-9_$]*$ ; parseTableName(formatTableName(x)) equals x. */
export function formatTableName(ref: TableRef): string {
  return `${formatPart(ref.schema)}.${formatPart(ref.name)}`;
}

/** How one part of a pattern matches: the exact text, or a regex with the LIKE form of it (a prefilter for the catalog query). */
export type NamePart = { readonly exact: string } | { readonly regex: RegExp; readonly like: string };

/** A parsed `schema.name` pattern; `text` is as written. */
export interface TablePattern {
  readonly text: string;
  readonly schema: NamePart;
  readonly name: NamePart;
}

/** Text escaped for LIKE with its default escape character, backslash. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

/** Text escaped for a RegExp with the `u` flag (which refuses escapes of characters that are not syntax). */
function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** The matcher of one part: exact when it holds no wildcard outside quotes. */
function namePart(runs: readonly Run[]): NamePart {
  if (!runs.some((run) => !run.quoted && /[*?]/.test(run.text))) return { exact: runs.map((run) => run.text).join('') };
  let regex = '';
  let like = '';
  for (const run of runs) {
    if (run.quoted) {
      regex += escapeRegex(run.text);
      like += escapeLike(run.text);
      continue;
    }
    // Split keeping the wildcards: ["a", "*", "b", "?", ""].
    for (const piece of run.text.split(/([*?])/)) {
      if (piece === '*') {
        regex += '.*';
        like += '%';
      } else if (piece === '?') {
        regex += '.';
        like += '_';
      } else {
        regex += escapeRegex(piece);
        like += escapeLike(piece);
      }
    }
  }
  // `s`: `*` also spans newlines, as `%` does; `u`: `?` is one code point, as `_` is one character.
  return { regex: new RegExp(`^${regex}$`, 'su'), like };
}

/** Outside quotes `*` = any run of characters, `?` = exactly one; `like` is the LIKE form with \ % _ escaped (backslash escape). */
export function parseTablePattern(text: string): TablePattern | { problem: string } {
  const parts = splitParts(text);
  if ('problem' in parts) return parts;
  const [schema, name] = schemaAndName(parts);
  return { text, schema: namePart(schema), name: namePart(name) };
}

/** Whether the text holds a wildcard outside quotes. */
export function isTablePattern(text: string): boolean {
  // Unquoted runs alternate with quoted ones when the text is split at its quotes ("" inside a quoted part splits into two quoted runs).
  return text.split('"').some((run, i) => i % 2 === 0 && /[*?]/.test(run));
}

/** The LIKE form of a part: its `like`, or its exact text escaped. */
export function likeOf(part: NamePart): string {
  return 'exact' in part ? escapeLike(part.exact) : part.like;
}

function partMatches(part: NamePart, text: string): boolean {
  return 'exact' in part ? part.exact === text : part.regex.test(text);
}

/** Whether the table's schema and name both match the pattern's. */
export function matchesTablePattern(pattern: TablePattern, ref: TableRef): boolean {
  return partMatches(pattern.schema, ref.schema) && partMatches(pattern.name, ref.name);
}

/** A pattern that matches exactly one name (for an exact entry, or an exclude without wildcard). */
export function exactPattern(ref: TableRef): TablePattern {
  return { text: formatTableName(ref), schema: { exact: ref.schema }, name: { exact: ref.name } };
}

/** The table an exact pattern names, or undefined when a part holds a wildcard. */
export function patternTable(pattern: TablePattern): TableRef | undefined {
  return 'exact' in pattern.schema && 'exact' in pattern.name ? { schema: pattern.schema.exact, name: pattern.name.exact } : undefined;
}

/**
 * Wording of validation messages: `expected <what>, got <value>`, enum lists, and redaction,
 * so that every problem reads the same way and no password ever reaches one (a connection URL is
 * shown with its password redacted).
 */
import type * as z from 'zod';
import { redactUrl } from '../redact.ts';
import { STRATEGY_KEYS } from './types.ts';

const MASK = '***';
const MAX_SHOWN = 80;

/** A problem before it is tied to a file: the key path as segments, and the message. */
export interface RawProblem {
  path: readonly PropertyKey[];
  message: string;
}

/** Masks URL passwords (`postgres://user:***@host`, `?password=***`) anywhere in a text. */
export function redactSecrets(text: string): string {
  return redactUrl(text);
}

/**
 * Masks the password of a URL-like value, with or without a scheme (`user:password@host`).
 * Greedy up to the last `@`, because users do leave `@` unencoded in passwords.
 */
function redactValue(text: string): string {
  const userinfo = text.includes('://') ? /^(\s*[a-z][a-z0-9+.-]*:\/\/[^:@/?#]*:)[\s\S]*@/i : /^(\s*[^:@/\s]+:)[\s\S]*@/;
  return redactSecrets(text.replace(userinfo, `$1${MASK}@`));
}

/** How a value found in the file is shown in a message: strings quoted, containers named, long text cut. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const shown = redactValue(value);
    return JSON.stringify(shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN)}...` : shown);
  }
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

type ErrorParam = { error: (issue: z.core.$ZodRawIssue) => string | undefined };

/** Error param for a zod schema: `required; expected <what>` or `expected <what>, got <value>`. */
export function expecting(what: string, whenMissing = `required; expected ${what}`): ErrorParam {
  return {
    error: (issue) => {
      // An object's unknown keys are worded by `fallbackMessage`, which knows the allowed keys.
      if (issue.code === 'unrecognized_keys') return undefined;
      return issue.input === undefined ? whenMissing : `expected ${what}, got ${describeValue(issue.input)}`;
    },
  };
}

/** Error param for an enum: names every allowed value. */
export function expectingOneOf(values: readonly string[], whenMissing?: string): ErrorParam {
  const allowed = values.join(', ');
  return {
    error: (issue) =>
      issue.input === undefined ? (whenMissing ?? `required; allowed: ${allowed}`) : `expected one of ${allowed}, got ${describeValue(issue.input)}`,
  };
}

/** Per-parse error map for issues no schema worded itself. */
export function fallbackMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'unrecognized_keys') {
    const shape = (issue.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape;
    return shape === undefined ? 'unknown key' : `allowed: ${Object.keys(shape).join(', ')}`;
  }
  if (issue.input === undefined) return 'required';
  return undefined;
}

/** Dotted key path as the user writes it: `sink.strategy.unique_key[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

const PASSWORD_MESSAGE =
  'not allowed: keep the password in the secret (connection_type: secretsmanager), ' +
  'the environment (PGFERRY_CONN_<ID>_PASSWORD) or the url (connection_type: url)';

/** Words one unknown key: the password gets its own advice, and a key of another strategy mode names the mode in use. */
function unknownKeyMessage(parent: readonly PropertyKey[], key: string, allowed: string, document: unknown): string {
  if (key === 'password' && parent.at(-1) === 'connection_params') return PASSWORD_MESSAGE;
  if (parent.length === 2 && parent[0] === 'sink' && parent[1] === 'strategy') {
    const mode = valueAt(document, [...parent, 'mode']);
    const belongsElsewhere = Object.values(STRATEGY_KEYS).some((keys: readonly string[]) => keys.includes(key));
    if (typeof mode === 'string' && belongsElsewhere) return `not allowed when mode is ${mode}`;
  }
  return `unknown key; ${allowed}`;
}

/** Turns zod's finalized issues into problems, one per unknown key so each carries its own path. */
export function issuesToProblems(issues: readonly z.core.$ZodIssue[], document: unknown): RawProblem[] {
  const problems: RawProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ path: [...issue.path, key], message: unknownKeyMessage(issue.path, key, issue.message, document) });
      }
    } else {
      problems.push({ path: issue.path, message: issue.message });
    }
  }
  return problems;
}

/** The value at a key path of a plain document, or undefined when any step is missing. */
function valueAt(document: unknown, path: readonly PropertyKey[]): unknown {
  let current = document;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

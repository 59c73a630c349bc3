/**
 * Readers for single values of a pipeline file: each either returns the normalised value or says
 * what was wrong. Pure functions, so the schema stays declarative and each rule is testable alone.
 */
import { describeValue } from './messages.ts';
import { MAX_IDENTIFIER_BYTES } from './types.ts';

/** A value read from the file, or why it could not be. */
export type Read<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Read<T> => ({ ok: true, value });
const fail = (message: string): Read<never> => ({ ok: false, message });

/** Why a string cannot name a PostgreSQL object, or undefined when it can. Any character but NUL is fine: names are always quoted. */
export function identifierProblem(name: string): string | undefined {
  if (name === '') return 'expected a non-empty name, got ""';
  if (name.includes('\0')) return 'must not contain a NUL character';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    return `expected at most ${MAX_IDENTIFIER_BYTES} bytes (PostgreSQL's limit on names), got ${bytes} bytes: ${describeValue(name)}`;
  }
  return undefined;
}

/** Why a raw SQL fragment cannot be embedded in pgferry's statements, or undefined when it can. */
export function sqlTextProblem(sql: string): string | undefined {
  if (sql.trim() === '') return 'expected SQL text, got an empty string';
  if (sql.includes('\0')) return 'must not contain a NUL character';
  // The text is wrapped in pgferry's own statement, where a `;` would end it early.
  if (/;\s*$/.test(sql)) return 'must not end with a semicolon (it is embedded in a larger statement)';
  return undefined;
}

/** Reads a whole number given as a number or a string of digits, within bounds. */
function readWholeNumber(input: unknown, min: number, max: number, what: string): Read<number> {
  const n = typeof input === 'string' && /^\s*\d+\s*$/.test(input) ? Number(input) : input;
  if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return ok(n);
  return fail(`expected ${what}, got ${describeValue(input)}`);
}

/** `port`: a number or a string of digits, 1..65535. */
export function readPort(input: unknown): Read<number> {
  return readWholeNumber(input, 1, 65_535, 'a port number from 1 to 65535');
}

/** `connect_timeout`: whole seconds; 0 waits forever, as in libpq. The bound keeps it within a Node timer once in milliseconds. */
export function readSeconds(input: unknown): Read<number> {
  return readWholeNumber(input, 0, 2_147_483, 'a whole number of seconds (0 or more)');
}

interface Unit {
  singular: string;
  plural: string;
  ms: number;
}

const UNIT_LIST: readonly (Unit & { aliases: readonly string[] })[] = [
  { singular: 'microsecond', plural: 'microseconds', ms: 0.001, aliases: ['us', 'usec', 'usecs'] },
  { singular: 'millisecond', plural: 'milliseconds', ms: 1, aliases: ['ms', 'msec', 'msecs'] },
  { singular: 'second', plural: 'seconds', ms: 1_000, aliases: ['s', 'sec', 'secs'] },
  { singular: 'minute', plural: 'minutes', ms: 60_000, aliases: ['m', 'min', 'mins'] },
  { singular: 'hour', plural: 'hours', ms: 3_600_000, aliases: ['h', 'hr', 'hrs'] },
  { singular: 'day', plural: 'days', ms: 86_400_000, aliases: ['d'] },
  { singular: 'week', plural: 'weeks', ms: 604_800_000, aliases: ['w'] },
];

/** Unit spellings PostgreSQL's interval input accepts; months and years are left out because their length varies. */
const UNITS = new Map<string, Unit>(UNIT_LIST.flatMap((unit) => [unit.singular, unit.plural, ...unit.aliases].map((alias) => [alias, unit] as const)));

const UNIT_NAMES = UNIT_LIST.map((unit) => unit.plural).join(', ');

interface Duration {
  /** `1 hour 30 minutes`: one space between number and unit, singular unit for 1. */
  text: string;
  ms: number;
}

/** Parses `90 seconds`, `1h 30min`, `500ms`; undefined when the text is not a duration. A bare number is refused here. */
function parseDuration(text: string): Duration | { unknownUnit: string } | undefined {
  const part = /\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*/iy;
  const parts: string[] = [];
  const seen = new Set<Unit>();
  let ms = 0;
  while (part.lastIndex < text.length) {
    const match = part.exec(text);
    if (match === null) return undefined;
    const amount = Number(match[1]);
    const unit = UNITS.get((match[2] ?? '').toLowerCase());
    if (unit === undefined) return { unknownUnit: match[2] ?? '' };
    // PostgreSQL refuses an interval that names the same unit twice.
    if (seen.has(unit)) return undefined;
    seen.add(unit);
    parts.push(`${amount} ${amount === 1 ? unit.singular : unit.plural}`);
    ms += amount * unit.ms;
  }
  return parts.length === 0 ? undefined : { text: parts.join(' '), ms };
}

/** `statement_timeout` in milliseconds, from a number (ms) or a duration such as `30s`, `5min`, `2 minutes`. */
export function readStatementTimeout(input: unknown): Read<number> {
  const what = 'milliseconds or a duration such as "30s", "5min" or "2 minutes"';
  let ms: number | undefined;
  if (typeof input === 'number') ms = input;
  else if (typeof input === 'string') {
    // PostgreSQL reads a bare number as milliseconds too.
    const parsed = /^\s*\d+(\.\d+)?\s*$/.test(input) ? { ms: Number(input) } : parseDuration(input);
    if (parsed !== undefined && 'unknownUnit' in parsed) return fail(`unknown unit ${describeValue(parsed.unknownUnit)}; expected ${what}`);
    ms = parsed?.ms;
  }
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return fail(`expected ${what}, got ${describeValue(input)}`);
  // The server keeps statement_timeout in an int of milliseconds.
  if (Math.round(ms) > 2_147_483_647) return fail(`expected at most 2147483647 ms (about 24 days), got ${describeValue(input)}`);
  return ok(Math.round(ms));
}

/**
 * A duration such as `15 minutes` or `1h 30min`, in milliseconds, within bounds: `state.lease_ttl`,
 * `schedule.max_staleness`. A bare number is refused (it has no unit).
 */
export function readDurationMs(input: unknown, bounds: { min: number; max: number; minText: string; maxText: string }): Read<number> {
  const what = `a duration such as "15 minutes" (units: ${UNIT_NAMES}) from ${bounds.minText} to ${bounds.maxText}`;
  if (typeof input !== 'string') return fail(`expected ${what}, got ${describeValue(input)}`);
  const parsed = parseDuration(input);
  if (parsed !== undefined && 'unknownUnit' in parsed) return fail(`unknown unit ${describeValue(parsed.unknownUnit)}; expected ${what}`);
  if (parsed === undefined || parsed.ms < bounds.min || parsed.ms > bounds.max) return fail(`expected ${what}, got ${describeValue(input)}`);
  return ok(Math.round(parsed.ms));
}

/** `state.lease_ttl`: from 2 seconds (tests) to 12 hours. */
export function readLeaseTtl(input: unknown): Read<number> {
  return readDurationMs(input, { min: 2_000, max: 12 * 3_600_000, minText: '2 seconds', maxText: '12 hours' });
}

/** `task_budget`: from 1 second (tests) to 15 minutes (a Lambda invocation's limit). */
export function readTaskBudget(input: unknown): Read<number> {
  return readDurationMs(input, { min: 1_000, max: 900_000, minText: '1 second', maxText: '15 minutes' });
}

/** `schedule.max_staleness`: from 1 minute to 7 days (what a CloudWatch alarm can look back over). */
export function readMaxStaleness(input: unknown): Read<number> {
  return readDurationMs(input, { min: 60_000, max: 7 * 86_400_000, minText: '1 minute', maxText: '7 days' });
}

/** `lookback`: an interval (normalised text) or a number for numeric cursors; undefined when it is zero, which means none. */
export function readLookback(input: unknown): Read<string | number | undefined> {
  const what = `an interval such as "5 minutes" (units: ${UNIT_NAMES}) or a number >= 0`;
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return fail(`expected ${what}, got ${describeValue(input)}`);
    return ok(input === 0 ? undefined : input);
  }
  if (typeof input !== 'string') return fail(`expected ${what}, got ${describeValue(input)}`);
  if (/^\s*0+(\.0+)?\s*$/.test(input)) return ok(undefined);
  if (/^\s*\d+(\.\d+)?\s*$/.test(input)) {
    return fail(`${describeValue(input)} has no unit; write an interval such as "${input.trim()} minutes", or an unquoted number for a numeric cursor`);
  }
  const parsed = parseDuration(input);
  if (parsed !== undefined && 'unknownUnit' in parsed) return fail(`unknown unit ${describeValue(parsed.unknownUnit)}; expected ${what}`);
  if (parsed === undefined) return fail(`expected ${what}, got ${describeValue(input)}`);
  return ok(parsed.ms === 0 ? undefined : parsed.text);
}

/** Whether a `lookback` as found in the file re-reads anything; unreadable values count as no (their own problem is reported). */
export function lookbackIsPositive(input: unknown): boolean {
  const read = readLookback(input);
  return read.ok && read.value !== undefined;
}

/** Why a text is not an IANA time zone, or undefined when it is. */
export function timezoneProblem(zone: string): string | undefined {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
    return zone.trim() === '' ? 'expected an IANA time zone such as Europe/Berlin or UTC, got ""' : undefined;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return `expected an IANA time zone such as Europe/Berlin or UTC, got ${describeValue(zone)}`;
  }
}

/** Why a `url` connection_id is not a postgres URL, or undefined. The value shown is redacted by `describeValue`. */
export function postgresUrlProblem(id: string): string | undefined {
  let protocol: string | undefined;
  try {
    protocol = new URL(id).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol === 'postgres:' || protocol === 'postgresql:') return undefined;
  return `expected a postgres:// or postgresql:// URL when connection_type is url, got ${describeValue(id)}`;
}

/** Why a `secretsmanager` connection_id is neither a secret name nor a secret ARN, or undefined. */
export function secretIdProblem(id: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(id)) return 'looks like a URL; set connection_type: url to use it as one';
  if (id.startsWith('arn:')) {
    if (/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@!-]+$/.test(id)) return undefined;
    return `expected a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>), got ${describeValue(id)}`;
  }
  // `!` is not allowed in names users create, but RDS-managed secrets are named `rds!...`.
  if (/^[A-Za-z0-9/_+=.@!-]{1,512}$/.test(id)) return undefined;
  return `expected a Secrets Manager secret name (letters, digits and /_+=.@-, at most 512) or ARN, got ${describeValue(id)}`;
}

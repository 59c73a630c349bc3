/** Identifier and literal quoting: the only way a name from a pipeline file reaches SQL. */
import { ConfigError } from '../errors.ts';

/** A table reference: schema and name, as in the pipeline file. */
export interface TableName {
  readonly schema: string;
  readonly name: string;
}

/** Quotes an identifier, doubling embedded double quotes: `Weird "T"` -> `"Weird ""T"""`. */
export function ident(name: string): string {
  if (name.includes('\u0000')) throw new ConfigError('identifier contains a NUL character');
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."name"`. */
export function qualified(table: TableName): string {
  return `${ident(table.schema)}.${ident(table.name)}`;
}

/** A comma-separated list of quoted identifiers. */
export function identList(names: readonly string[], prefix?: string): string {
  const p = prefix ? `${prefix}.` : '';
  return names.map((name) => `${p}${ident(name)}`).join(', ');
}

/**
 * A string literal. Sessions pin `standard_conforming_strings = on`, so backslashes are literal and
 * only single quotes need doubling. Used where COPY cannot take parameters.
 */
export function literal(value: string): string {
  if (value.includes('\u0000')) throw new ConfigError('literal contains a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}

/** A literal cast to a type given by `format_type()`: `'42'::bigint`. */
export function typedLiteral(value: string, type: string): string {
  return `${literal(value)}::${type}`;
}

/**
 * Reading the text of catalog definitions (pg_get_triggerdef, pg_get_constraintdef, pg_get_indexdef): finding a
 * keyword outside quotes and replacing the table name after it. Quote-aware, so a column, trigger or literal
 * spelled like the keyword cannot mislead it. Pure functions.
 */
import { InternalError } from '../errors.ts';
import { qualified, type TableName } from './quote.ts';

/**
 * Replaces the (possibly qualified) table name that follows the first `marker` outside quotes in a
 * definition from pg_get_triggerdef / pg_get_constraintdef by `table`. Quote-aware so that a column or
 * trigger named like the marker cannot mislead it.
 */
export function retarget(definition: string, marker: string, table: TableName): string {
  const at = findOutsideQuotes(definition, marker);
  if (at < 0) throw new InternalError(`exchange: cannot find ${marker.trim()} in ${definition}`);
  const start = at + marker.length;
  const end = skipQualifiedName(definition, start);
  return `${definition.slice(0, start)}${qualified(table)}${definition.slice(end)}`;
}

/** Index of the first `needle` in `sql` that is outside "quoted identifiers" and 'string literals'; -1 if none. */
export function findOutsideQuotes(sql: string, needle: string): number {
  let quote: string | undefined;
  for (let i = 0; i < sql.length; i += 1) {
    const ch = sql[i];
    // A doubled quote inside a quoted part closes and reopens it, which leaves the state right.
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (sql.startsWith(needle, i)) {
      return i;
    }
  }
  return -1;
}

/** End of the identifier chain (`a`, `"A b".c`) starting at `start`, as PostgreSQL's quote_ident prints it. */
function skipQualifiedName(sql: string, start: number): number {
  let i = start;
  for (;;) {
    if (sql[i] === '"') {
      i += 1;
      while (i < sql.length && !(sql[i] === '"' && sql[i + 1] !== '"')) i += sql[i] === '"' ? 2 : 1;
      i += 1;
    } else {
      const word = /^[a-z0-9_$]+/.exec(sql.slice(i));
      if (!word) throw new InternalError(`exchange: expected a name at ${JSON.stringify(sql.slice(i, i + 20))}`);
      i += word[0].length;
    }
    if (sql[i] !== '.') return i;
    i += 1;
  }
}

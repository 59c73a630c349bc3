/**
 * SQL text that rebuilds an existing index, or a constraint with its index, on another table under another
 * name: what exchange, partition_replace and the deferred index builds share. Pure functions over the text
 * pg_get_indexdef and pg_get_constraintdef print.
 */
import { InternalError } from '../errors.ts';
import { findOutsideQuotes } from './definition-text.ts';
import { ident, qualified, type TableName } from './quote.ts';

/** `CREATE [UNIQUE] INDEX <name> ON <table> USING ...`: an existing index's definition (pg_get_indexdef) rebuilt on another table. */
export function indexOn(
  index: { readonly name: string; readonly definition: string; readonly tablespace?: string },
  name: string,
  table: TableName,
  what: string,
): string {
  const using = findOutsideQuotes(index.definition, ' USING ');
  if (!index.definition.startsWith('CREATE ') || using < 0)
    throw new InternalError(`${what}: cannot read the definition of index ${index.name}: ${index.definition}`);
  let tail = index.definition.slice(using + 1);
  if (index.tablespace !== undefined) tail = beforeWhere(tail, `TABLESPACE ${ident(index.tablespace)}`);
  const unique = index.definition.startsWith('CREATE UNIQUE INDEX ') ? 'UNIQUE ' : '';
  return `CREATE ${unique}INDEX ${ident(name)} ON ${qualified(table)} ${tail}`;
}

/** `clause` inserted before the ` WHERE ` (outside quotes) of an index or constraint definition, or appended. */
function beforeWhere(definition: string, clause: string): string {
  const where = findOutsideQuotes(definition, ' WHERE ');
  const at = where < 0 ? definition.length : where;
  return `${definition.slice(0, at)} ${clause}${definition.slice(at)}`;
}

/** `pg_constraint.contype` of the constraints an index backs. */
export const INDEX_CONSTRAINT_KINDS = { p: 'primary key', u: 'unique', x: 'exclude' } as const;

/** A constraint backed by an index. */
export interface IndexConstraint {
  readonly kind: (typeof INDEX_CONSTRAINT_KINDS)[keyof typeof INDEX_CONSTRAINT_KINDS];
  /** `pg_get_constraintdef`: `EXCLUDE USING gist (r WITH &&) WITH (...)`. */
  readonly definition: string;
  readonly deferrable: boolean;
  readonly deferred: boolean;
  readonly comment?: string;
}

/**
 * The statements that build a primary key, unique or exclusion constraint `name` and its index on `table`.
 * pg_get_constraintdef leaves out a primary key's or unique constraint's index storage parameters and
 * tablespace, so those are built as the index pg_get_indexdef describes and attached with USING INDEX;
 * an exclusion constraint cannot be, so its definition gets the tablespace added.
 */
export function constraintWithIndexSql(
  index: { readonly name: string; readonly definition: string; readonly tablespace?: string },
  constraint: IndexConstraint,
  name: string,
  table: TableName,
  what: string,
): string[] {
  const t = qualified(table);
  if (constraint.kind === 'exclude') {
    const definition =
      index.tablespace === undefined ? constraint.definition : beforeWhere(constraint.definition, `USING INDEX TABLESPACE ${ident(index.tablespace)}`);
    return [`ALTER TABLE ${t} ADD CONSTRAINT ${ident(name)} ${definition}`];
  }
  const timing = constraint.deferrable ? ` DEFERRABLE INITIALLY ${constraint.deferred ? 'DEFERRED' : 'IMMEDIATE'}` : '';
  return [
    indexOn(index, name, table, what),
    `ALTER TABLE ${t} ADD CONSTRAINT ${ident(name)} ${constraint.kind === 'primary key' ? 'PRIMARY KEY' : 'UNIQUE'} USING INDEX ${ident(name)}${timing}`,
  ];
}

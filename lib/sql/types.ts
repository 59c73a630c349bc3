/** Shapes the SQL builders take, shared by the layers above them (source, state, sink, workflow). A leaf: imports nothing. */

/** One column of the extraction, with its type as `format_type()` prints it (schema-qualified where needed). */
export interface ColumnSpec {
  readonly name: string;
  readonly type: string;
}

/** A NOT NULL column of the staging table; `name` is the target's not-null constraint (PostgreSQL 18 and later). */
export interface StagedNotNull {
  readonly column: string;
  readonly name?: string;
}

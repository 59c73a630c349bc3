/**
 * When `delete_insert` may replace rows in place. Deleting a target row and inserting its staged version
 * touches the row's page, then a second page for the new row and the key index again (a full-page image
 * of each after a checkpoint); one `INSERT ... ON CONFLICT (key) DO UPDATE` changes the row where it is
 * found, which is measurably faster on the bench's merges (see docs/performance.md). It is used only
 * where the result cannot differ from DELETE + INSERT: same rows, same values (columns not staged get
 * their defaults), same errors, and nothing else that could tell the two apart (triggers, rules, row
 * security, publications, other unique constraints, inheritance children). Everything else keeps the two
 * statements.
 */
import type { Db } from '../db/index.ts';
import type { TableName } from '../sql/quote.ts';
import type { ColumnSpec } from '../sql/types.ts';
import { readInPlaceFacts, type InPlaceFacts } from './catalog/index.ts';

export type { InPlaceFacts } from './catalog/index.ts';

/** How delete_insert replaces rows in place. */
export interface InPlaceMerge {
  /**
   * Target columns not staged: set from EXCLUDED, the row INSERT proposed, which holds their defaults
   * evaluated once per row, as the INSERT of delete_insert would have (one nextval, one now()).
   */
  readonly unstaged: readonly string[];
  /** PostgreSQL 18 or later: `RETURNING old` tells updated rows from inserted ones. */
  readonly returningOld: boolean;
  /**
   * track_counts on: the rows the statement inserted are read from the transaction's own table statistics
   * (readInsertedInTransaction, ./catalog/merge-facts.ts), so the statement returns nothing; else it counts them in a RETURNING CTE
   * (measurably slower).
   */
  readonly countFromStatistics: boolean;
}

/**
 * Why `delete_insert` must delete and insert rather than replace in place, or undefined when it may
 * replace in place. `staged`: the staged columns with their types.
 */
export function inPlaceBlocker(facts: InPlaceFacts, keys: readonly string[], staged: readonly ColumnSpec[]): string | undefined {
  if (facts.kind === 'p' || facts.partition) return 'the target is partitioned or a partition';
  if (facts.kind !== 'r') return `the target is not a plain table (relkind ${facts.kind})`;
  if (facts.children) return 'the target has inheritance children (DELETE reaches them, ON CONFLICT does not)';
  if (facts.triggers) return 'the target has triggers (or foreign keys): they would see UPDATEs instead of DELETEs and INSERTs';
  if (facts.rules) return 'the target has rules';
  if (facts.rowSecurity) return 'the target has row-level security (UPDATE has its own policies)';
  if (facts.published) return 'the target is in a publication (subscribers would receive UPDATEs)';
  if (!facts.canUpdate) return 'the role may not UPDATE the target';
  if (!facts.keyIndex) return 'no immediate, non-partial unique index on exactly the key columns';
  if (facts.uniqueIndexes !== 1) return 'the target has other unique indexes or exclusion constraints (rows swapping values would conflict)';
  const stagedNames = new Set(staged.map((c) => c.name));
  const always = facts.assignable.find((c) => c.always && !stagedNames.has(c.name));
  if (always) return `column ${JSON.stringify(always.name)} is GENERATED ALWAYS AS IDENTITY and not staged (an UPDATE can only draw it anew)`;
  const stagedTypes = new Map(staged.map((c) => [c.name, c.type]));
  for (const name of keys) {
    const key = facts.keys.find((k) => k.name === name);
    if (!key || !key.notNull) return `key column ${JSON.stringify(name)} of the target may be NULL`;
    if (!key.deterministic) return `key column ${JSON.stringify(name)} has a nondeterministic collation`;
    if (stagedTypes.get(name) !== key.type) return `key column ${JSON.stringify(name)} is staged as another type than the target's`;
  }
  return undefined;
}

/** Reads the target's catalog and decides; without `merge`, `blocker` says why delete_insert must delete and insert. */
export async function planInPlaceMerge(
  db: Db,
  target: TableName,
  keys: readonly string[],
  staged: readonly ColumnSpec[],
): Promise<{ merge?: InPlaceMerge; blocker?: string }> {
  if (keys.length === 0) return { blocker: 'no unique_key' };
  const facts = await readInPlaceFacts(db, target, keys);
  if (!facts) return { blocker: 'the target does not exist yet' };
  const blocker = inPlaceBlocker(facts, keys, staged);
  if (blocker) return { blocker };
  const stagedNames = new Set(staged.map((c) => c.name));
  return {
    merge: {
      unstaged: facts.assignable.filter((c) => !stagedNames.has(c.name)).map((c) => c.name),
      returningOld: facts.serverVersion >= 180000,
      countFromStatistics: facts.trackCounts,
    },
  };
}

/**
 * Catalog reads of the sink: one function per thing listed, its SQL inside, named `read<Thing>`, in the topic
 * file it belongs to (indexes, partitions, tables, merge facts). Definitions are printed with
 * `search_path = pg_catalog` (withCatalogSearchPath) where the caller executes the text.
 * What exchange reads of its target is composed in ../target-catalog.ts.
 */
export { readDeferrableIndexes, readHasUniqueIndexOn, readPrebuiltIndexes } from './indexes.ts';
export { readInPlaceFacts, readInsertedInTransaction, type InPlaceFacts } from './merge-facts.ts';
export { readLeafDependents, readLeafIndexes, readLeaves, readPartitionedTarget, type LeafRow, type TargetInfo } from './partitions.ts';
export { withCatalogSearchPath } from './search-path.ts';
export {
  readEmptyLoadEligible,
  readLeftoverStaging,
  readRelationExists,
  readSchemaExists,
  readTableColumns,
  readTableExists,
  type TargetColumn,
} from './tables.ts';

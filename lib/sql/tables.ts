/** The catalog query that lists the source tables a multi-table file's entries may name. */
import { likeOf, type TablePattern } from '../config/table-name.ts';

/** Relation kinds listed: tables, partitioned tables, views, materialized views, foreign tables. */
const LISTED_RELKINDS = ['r', 'p', 'v', 'm', 'f'] as const;

// Each pattern is a pair ($1[i], $2[i]) of LIKE forms; LIKE only prefilters (the caller matches the rows again),
// and COLLATE "C" keeps it deterministic whatever the database's collation. A partitioned table's estimate sums
// its leaves' (pg_partition_tree), counting only leaves that have one; a view has none.
const LIST_SOURCE_TABLES = `SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS relkind, c.relispartition AS partition,
  (SELECT array_agg(a.attname::text ORDER BY k.ord)
     FROM pg_catalog.pg_index i
     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = c.oid AND i.indisprimary AND k.ord <= i.indnkeyatts) AS primary_key,
  CASE c.relkind
    WHEN 'p' THEN (SELECT sum(l.reltuples::float8) FILTER (WHERE l.reltuples >= 0)
                     FROM pg_catalog.pg_partition_tree(c.oid) t JOIN pg_catalog.pg_class l ON l.oid = t.relid WHERE t.isleaf)
    WHEN 'v' THEN NULL
    ELSE CASE WHEN c.reltuples >= 0 THEN c.reltuples::float8 END
  END AS estimated_rows
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN (${LISTED_RELKINDS.map((k) => `'${k}'`).join(', ')})
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS p(schema_like, name_like)
               WHERE n.nspname LIKE p.schema_like COLLATE "C" AND c.relname LIKE p.name_like COLLATE "C")
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`;

/** One statement for any number of patterns: the relations whose schema and name are LIKE one pattern's, in name order. */
export function listSourceTablesSql(patterns: readonly TablePattern[]): { text: string; values: unknown[] } {
  return { text: LIST_SOURCE_TABLES, values: [patterns.map((p) => likeOf(p.schema)), patterns.map((p) => likeOf(p.name))] };
}

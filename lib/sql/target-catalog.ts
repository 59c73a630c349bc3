/** The target's catalog as exchange reads it: what it carries over and what makes it refuse. Types only. */
import type { TableName } from './quote.ts';

/** A schema-qualified name of a table, view, sequence, collation or statistics object. */
export type ObjectName = TableName;

/** One privilege, as `aclexplode` reports it. */
export interface Grant {
  /** Role name; `null` is PUBLIC. */
  readonly grantee: string | null;
  /** `SELECT`, `INSERT`, ... as aclexplode spells it. */
  readonly privilege: string;
  /** Granted WITH GRANT OPTION. */
  readonly grantable: boolean;
}

/** The sequence behind an identity column and its options (int8 values as text). */
export interface IdentityCatalog {
  readonly generation: 'ALWAYS' | 'BY DEFAULT';
  readonly sequence: ObjectName;
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache: string;
  readonly cycle: boolean;
}

/** A column of the target. */
export interface ColumnCatalog {
  readonly name: string;
  /** `format_type` under `search_path = pg_catalog`: schema-qualified unless built in. */
  readonly type: string;
  readonly notNull: boolean;
  /** `pg_get_expr` of the default expression. */
  readonly default?: string;
  /** Collation, when it is not the type's default one. */
  readonly collation?: ObjectName;
  /** `SET STATISTICS` target, when set. */
  readonly statistics?: number;
  readonly identity?: IdentityCatalog;
  /** Generated column: staging cannot reproduce it, so exchange refuses it. */
  readonly generated?: 'stored' | 'virtual';
  readonly comment?: string;
  /** Column-level privileges. */
  readonly grants: readonly Grant[];
}

/** Constraint kinds exchange carries over (`not null` only exists as a named constraint from PostgreSQL 18). */
export type ConstraintKind = 'primary key' | 'unique' | 'exclude' | 'check' | 'foreign key' | 'not null';

/** A constraint of the target. */
export interface ConstraintCatalog {
  readonly name: string;
  readonly kind: ConstraintKind;
  /** `pg_get_constraintdef`, e.g. `PRIMARY KEY (id)`, `FOREIGN KEY (a) REFERENCES public.p(id)`. */
  readonly definition: string;
  readonly comment?: string;
  /** A foreign key that references the target itself; it must reference the new table instead. */
  readonly selfReference?: boolean;
  /** The column of a `not null` constraint. */
  readonly column?: string;
  /** Comment on the index behind a primary key, unique or exclusion constraint. */
  readonly indexComment?: string;
  /** The index behind a primary key, unique or exclusion constraint: pg_get_indexdef and tablespace. */
  readonly index?: { readonly definition: string; readonly tablespace?: string };
  readonly deferrable?: boolean;
  readonly deferred?: boolean;
}

/** An index of the target that does not back a constraint. */
export interface IndexCatalog {
  readonly name: string;
  /** `pg_get_indexdef`. */
  readonly definition: string;
  /** Tablespace, when not the database default (pg_get_indexdef leaves it out). */
  readonly tablespace?: string;
  readonly comment?: string;
}

/** A user trigger of the target. */
export interface TriggerCatalog {
  readonly name: string;
  /** `pg_get_triggerdef`. */
  readonly definition: string;
  /** `pg_trigger.tgenabled`: O (origin, the default), D (disabled), R (replica), A (always). */
  readonly enabled: 'O' | 'D' | 'R' | 'A';
  readonly comment?: string;
}

/** An extended statistics object on the target (`CREATE STATISTICS`). */
export interface StatisticsCatalog {
  readonly name: ObjectName;
  readonly owner: string;
  /** `ndistinct`, `dependencies`, `mcv`; empty for a single-expression object. */
  readonly kinds: readonly string[];
  /** `pg_get_statisticsobjdef_columns`: `a, b` or `(lower(a))`. */
  readonly columns: string;
  readonly target?: number;
  readonly comment?: string;
}

/** A storage parameter: `fillfactor`, or `toast.autovacuum_enabled` for the TOAST table. */
export interface RelOption {
  readonly name: string;
  readonly value: string;
}

/** Everything about the target that exchange carries over or that makes it refuse. */
export interface TargetCatalog {
  readonly table: TableName;
  /** `pg_class.relkind`: `r` for an ordinary table. */
  readonly relkind: string;
  readonly partitioned: boolean;
  /** The partitioned table it is a partition of. */
  readonly partitionOf?: ObjectName;
  /** Inheritance parents (not partitioning). */
  readonly inherits: readonly ObjectName[];
  /** Inheritance children and partitions. */
  readonly inheritedBy: readonly ObjectName[];
  /** The composite type of a typed table (`CREATE TABLE ... OF type`). */
  readonly ofType?: string;
  readonly owner: string;
  readonly unlogged: boolean;
  readonly options: readonly RelOption[];
  readonly replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  /** The index of `REPLICA IDENTITY USING INDEX`. */
  readonly replicaIdentityIndex?: string;
  /** The index of `CLUSTER ON`. */
  readonly clusterIndex?: string;
  readonly rowSecurity: boolean;
  readonly forceRowSecurity: boolean;
  /** Row-level security policies: not carried over yet, so exchange refuses them. */
  readonly policies: readonly string[];
  readonly comment?: string;
  readonly columns: readonly ColumnCatalog[];
  readonly constraints: readonly ConstraintCatalog[];
  readonly indexes: readonly IndexCatalog[];
  readonly triggers: readonly TriggerCatalog[];
  readonly statistics: readonly StatisticsCatalog[];
  /** Table privileges; undefined when `relacl` is NULL (the owner's defaults). */
  readonly grants?: readonly Grant[];
  /** Sequences OWNED BY a column (serial), not identity sequences. */
  readonly ownedSequences: readonly { readonly sequence: ObjectName; readonly column: string }[];
  readonly dependentViews: readonly { readonly view: ObjectName; readonly materialized: boolean }[];
  /** Foreign keys of other tables that reference the target. */
  readonly referencingForeignKeys: readonly { readonly name: string; readonly table: ObjectName }[];
  /** Publications that publish the target: listed, FOR ALL TABLES or FOR TABLES IN SCHEMA. */
  readonly publications: readonly string[];
  /** Rewrite rules on the target (`CREATE RULE`). */
  readonly rules: readonly string[];
  /** Any other object DROP TABLE would refuse to drop without CASCADE, as `pg_describe_object` names it. */
  readonly otherDependents: readonly string[];
}

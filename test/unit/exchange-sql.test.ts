import { describe, expect, it } from 'vitest';
import { exchangeRefusal } from '../../lib/sink/exchange.ts';
import { dropIndexesSql, rebuildIndexesSql } from '../../lib/sql/deferred-indexes.ts';
import { findOutsideQuotes, retarget } from '../../lib/sql/definition-text.ts';
import { exchangeStatements, exchangeTempPrefix, isPlainNotNull, stagedNotNullFor } from '../../lib/sql/exchange.ts';
import { adoptPrebuilt, prebuildSql, prebuiltIndexName } from '../../lib/sql/exchange-prebuild.ts';
import { constraintWithIndexSql } from '../../lib/sql/indexes.ts';
import type { TargetCatalog } from '../../lib/sql/target-catalog.ts';
import { createStagingSql } from '../../lib/sql/ddl.ts';

const target = { schema: 'My Schema', name: 'Weird "T"; DROP TABLE canary;--' };
const T = '"My Schema"."Weird ""T""; DROP TABLE canary;--"';
const staging = { schema: 'pgferry_staging', name: 'Weird stage' };
const S = '"pgferry_staging"."Weird stage"';

/** A catalog as readTargetCatalog would return it for `target`, with nothing that makes exchange refuse. */
function catalog(overrides: Partial<TargetCatalog> = {}): TargetCatalog {
  return {
    table: target,
    relkind: 'r',
    partitioned: false,
    inherits: [],
    inheritedBy: [],
    owner: 'app owner',
    unlogged: false,
    options: [],
    replicaIdentity: 'default',
    rowSecurity: false,
    forceRowSecurity: false,
    policies: [],
    columns: [
      { name: 'Order', type: 'integer', notNull: true, default: `nextval('"My Schema"."Order_seq"'::regclass)`, grants: [] },
      { name: 'note', type: 'text', notNull: false, comment: "it's a note", grants: [{ grantee: 'clerk', privilege: 'UPDATE', grantable: false }] },
    ],
    constraints: [
      { name: 'Weird PK', kind: 'primary key', definition: 'PRIMARY KEY ("Order")', indexComment: 'the key' },
      { name: 'note not empty', kind: 'check', definition: `CHECK ((note <> ''::text))`, comment: 'no blanks' },
      { name: 'to parent', kind: 'foreign key', definition: 'FOREIGN KEY (note) REFERENCES public.parent(name)' },
    ],
    indexes: [
      {
        name: 'by note',
        definition: `CREATE INDEX "by note" ON "My Schema"."Weird ""T""; DROP TABLE canary;--" USING btree (note) WHERE (note <> ' USING '::text)`,
        comment: 'partial',
      },
    ],
    triggers: [],
    statistics: [],
    grants: [
      { grantee: 'app owner', privilege: 'SELECT', grantable: false },
      { grantee: 'app owner', privilege: 'INSERT', grantable: false },
      { grantee: 'reader', privilege: 'SELECT', grantable: true },
      { grantee: null, privilege: 'SELECT', grantable: false },
    ],
    ownedSequences: [{ sequence: { schema: 'My Schema', name: 'Order_seq' }, column: 'Order' }],
    dependentViews: [],
    referencingForeignKeys: [],
    publications: [],
    rules: [],
    otherDependents: [],
    ...overrides,
  };
}

/** A statement with every quoted identifier and string literal removed: what is left is SQL syntax only. */
function unquoted(sql: string): string {
  return sql.replace(/"(?:[^"]|"")*"/g, '""').replace(/'(?:[^']|'')*'/g, "''");
}

describe('Function: exchangeStatements', () => {
  it('only moves the staged table into place when there is no target yet', () => {
    expect(exchangeStatements(undefined, target, staging, 'pgx_t')).toEqual({
      prebuildable: [],
      prepare: [],
      swap: [`ALTER TABLE ${S} SET SCHEMA "My Schema"`, `ALTER TABLE "My Schema"."Weird stage" RENAME TO "Weird ""T""; DROP TABLE canary;--"`],
    });
  });

  it('quotes every name, so no name from the catalog can end a statement', () => {
    const { prepare, swap } = exchangeStatements(catalog(), target, staging, 'pgx_t');
    for (const sql of [...prepare, ...swap]) {
      expect(unquoted(sql)).not.toMatch(/;|DROP TABLE canary/);
    }
    expect(swap).toContain(`DROP TABLE ${T}`);
    expect(prepare).toContain(`COMMENT ON COLUMN ${S}."note" IS 'it''s a note'`);
  });

  it('builds on the staged table before the lock and touches the target only in swap', () => {
    const { prepare, swap } = exchangeStatements(catalog(), target, staging, 'pgx_t');
    expect(prepare[0]).toBe(`LOCK TABLE ${T} IN SHARE UPDATE EXCLUSIVE MODE`);
    expect(prepare.slice(1).filter((sql) => sql.includes(T))).toEqual([]);
    expect(swap[0]).toBe(`LOCK TABLE ${T} IN ACCESS EXCLUSIVE MODE`);
    expect(prepare).toContain(
      `ALTER TABLE ${S}\n  ALTER COLUMN "Order" SET NOT NULL,\n  ALTER COLUMN "Order" SET DEFAULT nextval('"My Schema"."Order_seq"'::regclass),\n  ADD CONSTRAINT "note not empty" CHECK ((note <> ''::text))`,
    );
    expect(prepare).toContain(`ALTER TABLE ${S} ADD CONSTRAINT "to parent" FOREIGN KEY (note) REFERENCES public.parent(name)`);
  });

  it('creates indexes and index-backed constraints under temporary names and renames them back', () => {
    const { prepare, swap } = exchangeStatements(catalog(), target, staging, 'pgx_t');
    expect(prepare).toContain(`ALTER TABLE ${S} ADD CONSTRAINT "pgx_t_c1" PRIMARY KEY ("Order")`);
    expect(prepare).toContain(`CREATE INDEX "pgx_t_i1" ON ${S} USING btree (note) WHERE (note <> ' USING '::text)`);
    expect(prepare).toContain(`COMMENT ON INDEX "pgferry_staging"."pgx_t_c1" IS 'the key'`);
    expect(prepare).toContain(`COMMENT ON INDEX "pgferry_staging"."pgx_t_i1" IS 'partial'`);
    expect(prepare).toContain(`COMMENT ON CONSTRAINT "note not empty" ON ${S} IS 'no blanks'`);
    expect(swap).toEqual(
      expect.arrayContaining([`ALTER INDEX "My Schema"."pgx_t_i1" RENAME TO "by note"`, `ALTER TABLE ${T} RENAME CONSTRAINT "pgx_t_c1" TO "Weird PK"`]),
    );
  });

  it('keeps a serial sequence alive: detached before DROP, re-attached after the owner is restored', () => {
    const { swap } = exchangeStatements(catalog(), target, staging, 'pgx_t');
    const at = (sql: string): number => swap.indexOf(sql);
    expect(at(`ALTER SEQUENCE "My Schema"."Order_seq" OWNED BY NONE`)).toBeLessThan(at(`DROP TABLE ${T}`));
    expect(at(`ALTER TABLE ${T} OWNER TO "app owner"`)).toBeGreaterThan(at(`DROP TABLE ${T}`));
    expect(at(`ALTER SEQUENCE "My Schema"."Order_seq" OWNED BY ${T}."Order"`)).toBeGreaterThan(at(`ALTER TABLE ${T} OWNER TO "app owner"`));
  });

  it('re-grants table and column privileges after OWNER TO, with PUBLIC and WITH GRANT OPTION', () => {
    const { swap } = exchangeStatements(catalog(), target, staging, 'pgx_t');
    const owner = swap.indexOf(`ALTER TABLE ${T} OWNER TO "app owner"`);
    expect(swap.slice(owner + 1)).toEqual([
      `ALTER SEQUENCE "My Schema"."Order_seq" OWNED BY ${T}."Order"`,
      `REVOKE ALL ON TABLE ${T} FROM "app owner"`,
      `GRANT SELECT, INSERT ON TABLE ${T} TO "app owner"`,
      `GRANT SELECT ON TABLE ${T} TO "reader" WITH GRANT OPTION`,
      `GRANT SELECT ON TABLE ${T} TO PUBLIC`,
      `GRANT UPDATE ("note") ON TABLE ${T} TO "clerk"`,
    ]);
  });

  it('leaves default privileges alone when the target has no ACL', () => {
    const { swap } = exchangeStatements(catalog({ grants: undefined, columns: [] }), target, staging, 'pgx_t');
    expect(swap.filter((sql) => /^(GRANT|REVOKE)/.test(sql))).toEqual([]);
  });

  it('continues an identity sequence where the old one stopped and gives it the old name', () => {
    const identity = {
      generation: 'BY DEFAULT' as const,
      sequence: { schema: 'My Schema', name: 'code seq' },
      start: '50',
      increment: '1',
      min: '1',
      max: '9223372036854775807',
      cache: '1',
      cycle: false,
    };
    const { prepare, swap } = exchangeStatements(
      catalog({ columns: [{ name: 'code', type: 'bigint', notNull: true, identity, grants: [] }], ownedSequences: [] }),
      target,
      staging,
      'pgx_t',
    );
    expect(prepare).toContain(
      `ALTER TABLE ${S}\n  ALTER COLUMN "code" ADD GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME "pgferry_staging"."pgx_t_s1" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 50 CACHE 1 NO CYCLE)`,
    );
    const setval = swap.indexOf(
      `SELECT pg_catalog.setval('"pgferry_staging"."pgx_t_s1"'::pg_catalog.regclass, last_value, is_called) FROM "My Schema"."code seq"`,
    );
    expect(setval).toBeGreaterThan(0);
    expect(setval).toBeLessThan(swap.indexOf(`DROP TABLE ${T}`));
    expect(swap).toContain(`ALTER SEQUENCE "My Schema"."pgx_t_s1" RENAME TO "code seq"`);
  });

  it('adds PostgreSQL 18 not-null constraints under their own names, after dropping a staged one', () => {
    const { prepare } = exchangeStatements(
      catalog({
        columns: [{ name: 'Order', type: 'integer', notNull: true, grants: [] }],
        constraints: [{ name: 'order is set', kind: 'not null', definition: 'NOT NULL "Order"', column: 'Order' }],
      }),
      target,
      staging,
      'pgx_t',
    );
    expect(prepare).toContain(`ALTER TABLE ${S}\n  ALTER COLUMN "Order" DROP NOT NULL`);
    expect(prepare).toContain(`ALTER TABLE ${S}\n  ADD CONSTRAINT "order is set" NOT NULL "Order"`);
  });

  describe('NOT NULLs the staged table was created with', () => {
    const pg18 = catalog({
      columns: [
        { name: 'Order', type: 'integer', notNull: true, grants: [] },
        { name: 'code', type: 'text', notNull: true, grants: [] },
        { name: 'note', type: 'text', notNull: true, grants: [] },
        { name: 'free', type: 'text', notNull: false, grants: [] },
      ],
      constraints: [
        { name: 'order is set', kind: 'not null', definition: 'NOT NULL "Order"', column: 'Order' },
        { name: 'code_nn', kind: 'not null', definition: 'NOT NULL code', column: 'code' },
        { name: 'note_nn', kind: 'not null', definition: 'NOT NULL note NO INHERIT', column: 'note' },
      ],
    });
    const notNullStatements = (prepare: readonly string[]): string[] => prepare.filter((p) => /NOT NULL/.test(unquoted(p)));

    it('stages every plain NOT NULL of the target under its constraint name; NO INHERIT and NOT VALID ones are left to the exchange', () => {
      expect(stagedNotNullFor(pg18)).toEqual([
        { column: 'Order', name: 'order is set' },
        { column: 'code', name: 'code_nn' },
      ]);
      const pg15 = catalog({
        columns: [
          { name: 'Order', type: 'integer', notNull: true, grants: [] },
          { name: 'free', type: 'text', notNull: false, grants: [] },
        ],
        constraints: [],
      });
      expect(stagedNotNullFor(pg15)).toEqual([{ column: 'Order' }]);
      expect(['NOT NULL id', 'NOT NULL "Order"', 'NOT NULL "a "" NOT VALID"'].filter(isPlainNotNull)).toHaveLength(3);
      expect(['NOT NULL id NO INHERIT', 'NOT NULL id NOT VALID', 'NOT NULL "x" NO INHERIT NOT VALID', 'CHECK (id > 0)'].filter(isPlainNotNull)).toEqual([]);
    });

    it('creates the staging table with them, so COPY checks each row', () => {
      const [create] = createStagingSql(
        staging,
        { schema: 'pgferry_staging', name: 'done' },
        [
          { name: 'Order', type: 'integer' },
          { name: 'code', type: 'text' },
          { name: 'free', type: 'text' },
        ],
        { pipeline: 'p', runId: 'r', logged: true, schemaExists: true, notNull: stagedNotNullFor(pg18) },
      ).filter((q) => q.startsWith('CREATE TABLE'));
      expect(create).toBe(`CREATE TABLE ${S} ("Order" integer CONSTRAINT "order is set" NOT NULL, "code" text CONSTRAINT "code_nn" NOT NULL, "free" text)`);
    });

    it("keeps staged NOT NULLs that are the target's: no DROP, no ADD, so no scan of the staged rows for them", () => {
      const { prepare } = exchangeStatements(pg18, target, staging, 'pgx_t', stagedNotNullFor(pg18));
      expect(notNullStatements(prepare)).toEqual([
        `ALTER TABLE ${S}\n  ALTER COLUMN "note" DROP NOT NULL`,
        `ALTER TABLE ${S}\n  ADD CONSTRAINT "note_nn" NOT NULL note NO INHERIT`,
      ]);
      const pg15 = catalog({ columns: [{ name: 'Order', type: 'integer', notNull: true, grants: [] }], constraints: [] });
      expect(notNullStatements(exchangeStatements(pg15, target, staging, 'pgx_t', [{ column: 'Order' }]).prepare)).toEqual([]);
      expect(notNullStatements(exchangeStatements(pg15, target, staging, 'pgx_t').prepare)).toEqual([`ALTER TABLE ${S}\n  ALTER COLUMN "Order" SET NOT NULL`]);
    });

    it('replaces a staged NOT NULL the target renamed or changed since the plan, and drops one it no longer has', () => {
      const staged = [
        { column: 'Order', name: 'old name' },
        { column: 'code', name: 'code_nn' },
        { column: 'free', name: 'free_nn' },
      ];
      const changed = catalog({
        ...pg18,
        constraints: pg18.constraints.map((c) => (c.name === 'code_nn' ? { ...c, definition: 'NOT NULL code NOT VALID' } : c)),
      });
      const { prepare } = exchangeStatements(changed, target, staging, 'pgx_t', staged);
      expect(notNullStatements(prepare)).toEqual([
        `ALTER TABLE ${S}\n  ALTER COLUMN "Order" DROP NOT NULL,\n  ALTER COLUMN "code" DROP NOT NULL,\n  ALTER COLUMN "note" DROP NOT NULL,\n  ALTER COLUMN "free" DROP NOT NULL`,
        `ALTER TABLE ${S}\n  ADD CONSTRAINT "order is set" NOT NULL "Order",\n  ADD CONSTRAINT "code_nn" NOT NULL code NOT VALID,\n  ADD CONSTRAINT "note_nn" NOT NULL note NO INHERIT`,
      ]);
    });
  });

  it('points self-referencing foreign keys and triggers at the staged table, whatever their names contain', () => {
    const { prepare } = exchangeStatements(
      catalog({
        constraints: [
          {
            name: 'self',
            kind: 'foreign key',
            selfReference: true,
            definition: `FOREIGN KEY ("REFERENCES x") REFERENCES "My Schema"."Weird ""T""; DROP TABLE canary;--"("Order")`,
          },
        ],
        triggers: [
          {
            name: 'On x',
            enabled: 'A',
            definition: `CREATE TRIGGER "On x" AFTER UPDATE OF "a ON b" ON "My Schema"."Weird ""T""; DROP TABLE canary;--" FOR EACH ROW EXECUTE FUNCTION public.f()`,
          },
        ],
      }),
      target,
      staging,
      'pgx_t',
    );
    expect(prepare).toContain(`ALTER TABLE ${S} ADD CONSTRAINT "self" FOREIGN KEY ("REFERENCES x") REFERENCES ${S}("Order")`);
    expect(prepare).toContain(`CREATE TRIGGER "On x" AFTER UPDATE OF "a ON b" ON ${S} FOR EACH ROW EXECUTE FUNCTION public.f()`);
    expect(prepare).toContain(`ALTER TABLE ${S} ENABLE ALWAYS TRIGGER "On x"`);
  });

  it('carries storage parameters, replica identity, CLUSTER ON, row security and persistence', () => {
    const { prepare } = exchangeStatements(
      catalog({
        unlogged: true,
        options: [
          { name: 'fillfactor', value: '70' },
          { name: 'toast.autovacuum_enabled', value: 'false' },
        ],
        replicaIdentity: 'index',
        replicaIdentityIndex: 'Weird PK',
        clusterIndex: 'by note',
        rowSecurity: true,
        forceRowSecurity: true,
      }),
      target,
      staging,
      'pgx_t',
    );
    expect(prepare[1]).toBe(`ALTER TABLE ${S} SET UNLOGGED`);
    expect(prepare).toContain(
      `ALTER TABLE ${S}\n  SET ("fillfactor" = '70', "toast"."autovacuum_enabled" = 'false'),\n  REPLICA IDENTITY USING INDEX "pgx_t_c1",\n  CLUSTER ON "pgx_t_i1",\n  ENABLE ROW LEVEL SECURITY,\n  FORCE ROW LEVEL SECURITY`,
    );
  });

  it('refuses a temporary-name prefix that would make names longer than 63 bytes', () => {
    expect(() => exchangeStatements(catalog(), target, staging, 'p'.repeat(61))).toThrow(/longer than 63 bytes/);
    expect(Buffer.byteLength(`${exchangeTempPrefix({ schema: 's'.repeat(63), name: 'é'.repeat(31) })}_i999`)).toBeLessThanOrEqual(63);
  });
});

describe('Function: exchangeRefusal', () => {
  it('allows a plain table with carried attachments', () => {
    expect(exchangeRefusal(catalog())).toBeUndefined();
  });

  it('names the target, every dependent view and foreign key, and what to do', () => {
    const reason = exchangeRefusal(
      catalog({
        dependentViews: [
          { view: { schema: 'app', name: 'v' }, materialized: false },
          { view: { schema: 'app', name: 'mv' }, materialized: true },
        ],
        referencingForeignKeys: [{ name: 'child_fk', table: { schema: 'app', name: 'child' } }],
      }),
    );
    expect(reason).toBe(
      `exchange cannot replace ${T}: view "app"."v", materialized view "app"."mv" depend on it; ` +
        `foreign key "child_fk" of table "app"."child" references it. ` +
        'Drop or detach what is listed before the run and re-create it afterwards, or use overwrite_type: truncate_insert, which keeps the table.',
    );
  });

  it.each([
    [{ partitioned: true, relkind: 'p' }, /it is a partitioned table/],
    [{ partitionOf: { schema: 'app', name: 'events' }, inherits: [] }, /it is a partition of "app"\."events"/],
    [{ inherits: [{ schema: 'app', name: 'base' }] }, /it inherits from "app"\."base"/],
    [{ inheritedBy: [{ schema: 'app', name: 'kid' }] }, /"app"\."kid" inherit from it/],
    [{ relkind: 'v' }, /it is a view, not a table/],
    [{ policies: ['own rows'] }, /row-level security policies "own rows", which exchange does not carry over yet/],
    [{ publications: ['cdc'] }, /it is published by "cdc", whose subscribers a rename would leave without the new rows/],
    [{ rules: ['log_it'] }, /it has rules "log_it"/],
    [{ otherDependents: ['function app.f(app.t)'] }, /other objects depend on it: function app\.f\(app\.t\)/],
    [{ columns: [{ name: 'total', type: 'numeric', notNull: false, generated: 'stored' as const, grants: [] }] }, /column "total" is a generated column/],
  ])('refuses %j', (overrides, message) => {
    expect(exchangeRefusal(catalog(overrides))).toMatch(message);
  });

  it('words the refusal for another strategy', () => {
    const reason = exchangeRefusal(catalog({ publications: ['cdc'] }), { strategy: 'shadow_swap', alternative: 'merge_policy: delete_insert' });
    expect(reason).toMatch(/^shadow_swap cannot replace .* or use merge_policy: delete_insert, which keeps the table\.$/);
  });
});

describe('Function: retarget', () => {
  it('skips quoted identifiers and string literals when looking for the marker', () => {
    expect(findOutsideQuotes(`x "a ON b" 'c ON d' ON t`, ' ON ')).toBe(19);
    expect(retarget(`CREATE TRIGGER "t ON x" BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION f()`, ' ON ', { schema: 's', name: 'n' })).toBe(
      `CREATE TRIGGER "t ON x" BEFORE INSERT ON "s"."n" FOR EACH ROW EXECUTE FUNCTION f()`,
    );
  });

  it('fails loudly on a definition it cannot read', () => {
    expect(() => retarget('CHECK (a > 0)', 'REFERENCES ', { schema: 's', name: 'n' })).toThrow(/cannot find REFERENCES/);
  });
});

describe('Function: constraintWithIndexSql', () => {
  it('builds a primary key or unique constraint as its index (storage parameters, tablespace) attached with USING INDEX', () => {
    const index = {
      name: 'Weird PK',
      definition: `CREATE UNIQUE INDEX "Weird PK" ON ${T} USING btree ("Order") INCLUDE (note) WITH (fillfactor='80')`,
      tablespace: 'fast disk',
    };
    expect(
      constraintWithIndexSql(
        index,
        { kind: 'unique', definition: 'UNIQUE ("Order") INCLUDE (note) DEFERRABLE INITIALLY DEFERRED', deferrable: true, deferred: true },
        'tmp c1',
        staging,
        'test',
      ),
    ).toEqual([
      `CREATE UNIQUE INDEX "tmp c1" ON ${S} USING btree ("Order") INCLUDE (note) WITH (fillfactor='80') TABLESPACE "fast disk"`,
      `ALTER TABLE ${S} ADD CONSTRAINT "tmp c1" UNIQUE USING INDEX "tmp c1" DEFERRABLE INITIALLY DEFERRED`,
    ]);
    expect(
      constraintWithIndexSql(
        { ...index, tablespace: undefined },
        { kind: 'primary key', definition: 'PRIMARY KEY ("Order")', deferrable: false, deferred: false },
        'pk',
        staging,
        'test',
      )[1],
    ).toBe(`ALTER TABLE ${S} ADD CONSTRAINT "pk" PRIMARY KEY USING INDEX "pk"`);
  });

  it('adds an exclusion constraint by its definition, with the tablespace before its WHERE', () => {
    const definition = `EXCLUDE USING gist (slot WITH &&) WITH (fillfactor='70') WHERE ((note <> ' WHERE ('::text))`;
    expect(
      constraintWithIndexSql(
        { name: 'x', definition: 'unused', tablespace: 'ts' },
        { kind: 'exclude', definition, deferrable: false, deferred: false },
        'x',
        staging,
        'test',
      ),
    ).toEqual([
      `ALTER TABLE ${S} ADD CONSTRAINT "x" EXCLUDE USING gist (slot WITH &&) WITH (fillfactor='70') USING INDEX TABLESPACE "ts" WHERE ((note <> ' WHERE ('::text))`,
    ]);
  });
});

describe('Function: rebuildIndexesSql', () => {
  it('builds constraints, then plain indexes, then replica identity, CLUSTER ON and comments, under the same names', () => {
    const sql = rebuildIndexesSql(target, [
      { name: 'i "1"', definition: `CREATE INDEX "i ""1""" ON ${T} USING btree (note)`, comment: "it's i1", replicaIdentity: false, clustered: true },
      {
        name: 'pk',
        definition: `CREATE UNIQUE INDEX pk ON ${T} USING btree ("Order")`,
        replicaIdentity: true,
        clustered: false,
        constraint: { kind: 'primary key', definition: 'PRIMARY KEY ("Order")', deferrable: false, deferred: false, comment: 'the key' },
      },
    ]);
    expect(sql).toEqual([
      `CREATE UNIQUE INDEX "pk" ON ${T} USING btree ("Order")`,
      `ALTER TABLE ${T} ADD CONSTRAINT "pk" PRIMARY KEY USING INDEX "pk"`,
      `CREATE INDEX "i ""1""" ON ${T} USING btree (note)`,
      `ALTER TABLE ${T} REPLICA IDENTITY USING INDEX "pk"`,
      `ALTER TABLE ${T} CLUSTER ON "i ""1"""`,
      `COMMENT ON INDEX "My Schema"."i ""1""" IS 'it''s i1'`,
      `COMMENT ON CONSTRAINT "pk" ON ${T} IS 'the key'`,
    ]);
    expect(dropIndexesSql(target, [])).toEqual([]);
  });
});

describe('Functions: prebuildSql, adoptPrebuilt (index builds ahead of the apply transaction)', () => {
  const keyed = (overrides: Partial<TargetCatalog> = {}): TargetCatalog =>
    catalog({
      constraints: [
        {
          name: 'Weird PK',
          kind: 'primary key',
          definition: 'PRIMARY KEY ("Order")',
          index: { definition: `CREATE UNIQUE INDEX "Weird PK" ON ${T} USING btree ("Order")` },
        },
        { name: 'no overlap', kind: 'exclude', definition: 'EXCLUDE USING gist (note WITH =)', index: { definition: 'unused' } },
      ],
      ...overrides,
    });

  it('offers the builds of plain and constraint-backed indexes, not exclusion constraints, and none when the staged table is rewritten first', () => {
    const { prebuildable, prepare } = exchangeStatements(keyed(), target, staging, 'pgx_t');
    expect(prebuildable).toEqual([
      { name: 'pgx_t_c1', sql: `CREATE UNIQUE INDEX "pgx_t_c1" ON ${S} USING btree ("Order")` },
      { name: 'pgx_t_i1', sql: `CREATE INDEX "pgx_t_i1" ON ${S} USING btree (note) WHERE (note <> ' USING '::text)` },
    ]);
    for (const build of prebuildable) expect(prepare).toContain(build.sql);
    expect(exchangeStatements(keyed({ unlogged: true }), target, staging, 'pgx_t').prebuildable).toEqual([]);
    const collated = keyed({ columns: [{ name: 'note', type: 'text', notNull: false, collation: { schema: 'pg_catalog', name: 'C' }, grants: [] }] });
    expect(exchangeStatements(collated, target, staging, 'pgx_t').prebuildable).toEqual([]);
  });

  it("names a prebuilt index by its definition, not by its place among the target's indexes", () => {
    const [key, note] = exchangeStatements(keyed(), target, staging, 'pgx_t').prebuildable;
    if (!key || !note) throw new Error('expected two builds');
    const name = prebuiltIndexName('pgx_t', note);
    expect(name).toMatch(/^pgx_t_p[0-9a-f]{16}$/);
    expect(prebuildSql('pgx_t', note)).toBe(`CREATE INDEX IF NOT EXISTS "${name}" ON ${S} USING btree (note) WHERE (note <> ' USING '::text)`);
    expect(prebuildSql('pgx_t', key)).toBe(`CREATE UNIQUE INDEX IF NOT EXISTS "${prebuiltIndexName('pgx_t', key)}" ON ${S} USING btree ("Order")`);
    expect(prebuiltIndexName('pgx_t', { ...note, name: 'pgx_t_i7', sql: note.sql.replace('"pgx_t_i1"', '"pgx_t_i7"') })).toBe(name);
    expect(prebuiltIndexName('pgx_t', { ...note, sql: note.sql.replace('(note)', '(lower(note))') })).not.toBe(name);
    expect(() => prebuiltIndexName('p'.repeat(50), note)).toThrow(/longer than 63 bytes/);
  });

  it('renames what was built ahead into place, builds the rest, and drops prebuilt indexes nothing asks for any more', () => {
    const statements = exchangeStatements(keyed(), target, staging, 'pgx_t');
    const [key, note] = statements.prebuildable;
    if (!key || !note) throw new Error('expected two builds');
    const prepared = adoptPrebuilt(statements, 'pgx_t', staging, [prebuiltIndexName('pgx_t', note), 'pgx_t_pstale']);
    expect(prepared[0]).toBe('DROP INDEX "pgferry_staging"."pgx_t_pstale"');
    expect(prepared.slice(1)).toEqual(
      statements.prepare.map((sql) => (sql === note.sql ? `ALTER INDEX "pgferry_staging"."${prebuiltIndexName('pgx_t', note)}" RENAME TO "pgx_t_i1"` : sql)),
    );
    expect(prepared).toContain(key.sql);
    expect(adoptPrebuilt(statements, 'pgx_t', staging, [])).toEqual(statements.prepare);
  });

  it('adopts one prebuilt index once when the target has two indexes with the same definition', () => {
    const twin = { name: 'by note too', definition: `CREATE INDEX "by note too" ON ${T} USING btree (note) WHERE (note <> ' USING '::text)` };
    const statements = exchangeStatements(keyed({ indexes: [...catalog().indexes, twin] }), target, staging, 'pgx_t');
    const builds = statements.prebuildable.filter((b) => b.name.includes('_i'));
    expect(builds.map((b) => prebuiltIndexName('pgx_t', b))).toEqual([
      prebuiltIndexName('pgx_t', builds[0] as never),
      prebuiltIndexName('pgx_t', builds[0] as never),
    ]);
    const prepared = adoptPrebuilt(statements, 'pgx_t', staging, [prebuiltIndexName('pgx_t', builds[0] as never)]);
    expect(prepared.filter((sql) => sql.startsWith('ALTER INDEX'))).toHaveLength(1);
    expect(prepared).toContain(builds[1]?.sql);
  });
});

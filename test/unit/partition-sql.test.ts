import { describe, expect, it } from 'vitest';
import {
  byValueSql,
  distinctValuesSql,
  fallbackSql,
  leafStatements,
  leafTempNames,
  leavesHoldingSql,
  partitionTempPrefix,
  stagedSource,
  valuesOutsideSql,
  valuesTable,
  valuesTableSql,
  type LeafPartition,
} from '../../lib/sql/partition.ts';
import { keyMatch as shadowKeyMatch } from '../../lib/sql/merge.ts';
import { createShadowSql, keepTargetRowsSql, notStagedSql, shadowTable } from '../../lib/sql/shadow-swap.ts';

const target = { schema: 'My Schema', name: 'Weird "T"; DROP TABLE canary;--' };
const T = '"My Schema"."Weird ""T""; DROP TABLE canary;--"';
const staging = { schema: 'pgferry_staging', name: 'Weird stage' };
const S = '"pgferry_staging"."Weird stage"';
const columns = [
  { name: 'Order', type: 'integer' },
  { name: 'd', type: 'date' },
  { name: 'note', type: 'text' },
];

/** A leaf as the catalog would describe it, with names that must be quoted. */
function leaf(overrides: Partial<LeafPartition> = {}): LeafPartition {
  return {
    oid: '16400',
    table: { schema: 'My Schema', name: 'Weird "T" 2026-06-01' },
    parent: target,
    bound: `FOR VALUES FROM ('2026-06-01') TO ('2026-06-02')`,
    constraint: `((d IS NOT NULL) AND (d >= '2026-06-01'::date) AND (d < '2026-06-02'::date))`,
    owner: 'app "owner"',
    unlogged: false,
    options: [{ name: 'fillfactor', value: '70' }],
    comment: "day's rows",
    grants: [
      { grantee: 'app "owner"', privilege: 'SELECT', grantable: false },
      { grantee: 'reader', privilege: 'SELECT', grantable: false },
      { grantee: null, privilege: 'SELECT', grantable: false },
    ],
    indexes: [
      {
        name: 'leaf pkey',
        definition: 'CREATE UNIQUE INDEX "leaf pkey" ON "My Schema"."Weird ""T"" 2026-06-01" USING btree ("Order", d)',
        constraint: { name: 'leaf pkey', kind: 'primary key', definition: 'PRIMARY KEY ("Order", d)', deferrable: false, deferred: false },
      },
      {
        name: 'leaf note',
        definition: `CREATE INDEX "leaf note" ON "My Schema"."Weird ""T"" 2026-06-01" USING btree (note) WHERE (note <> ' USING '::text)`,
        tablespace: 'fast disk',
      },
    ],
    ...overrides,
  };
}

describe('Function: fallbackSql', () => {
  it('deletes by an index-friendly semi-join on the quoted column and inserts the staged rows', () => {
    const sql = fallbackSql(target, staging, columns, 'Order', { hasNull: false });
    expect(sql.delete).toEqual([`DELETE FROM ${T} WHERE "Order" IN (SELECT s."Order" FROM ${S} AS s)`]);
    expect(sql.insert).toBe(`INSERT INTO ${T} ("Order", "d", "note") SELECT "Order", "d", "note" FROM ${S}`);
  });

  it('adds a separate IS NULL delete only when a NULL value is staged', () => {
    const sql = fallbackSql(target, staging, columns, 'Order', { hasNull: true });
    expect(sql.delete).toEqual([`DELETE FROM ${T} WHERE "Order" IN (SELECT s."Order" FROM ${S} AS s)`, `DELETE FROM ${T} WHERE "Order" IS NULL`]);
  });

  it('counts distinct values and a staged NULL apart', () => {
    expect(distinctValuesSql(staging, 'Order')).toBe(
      `SELECT count(DISTINCT "Order")::int8 AS n, coalesce(bool_or("Order" IS NULL), false) AS has_null FROM ${S}`,
    );
  });
});

describe('Function: leafStatements', () => {
  const names = leafTempNames(partitionTempPrefix(staging), 1, leaf());

  it('builds the replacement from the leaf with a CHECK equal to the partition constraint, before the rows go in', () => {
    const s = leafStatements(leaf(), names, `${S} AS s`, columns);
    const L = '"My Schema"."Weird ""T"" 2026-06-01"';
    const N = `"My Schema"."${names.table}"`;
    expect(s.create).toEqual([
      `CREATE TABLE ${N} (LIKE ${L} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS) WITH ("fillfactor" = '70')`,
      `ALTER TABLE ${N} ADD CONSTRAINT "${names.check}" CHECK (((d IS NOT NULL) AND (d >= '2026-06-01'::date) AND (d < '2026-06-02'::date)))`,
    ]);
    expect(s.insert).toBe(
      `INSERT INTO ${N} ("Order", "d", "note") SELECT s."Order", s."d", s."note" FROM ${S} AS s WHERE (((d IS NOT NULL) AND (d >= '2026-06-01'::date) AND (d < '2026-06-02'::date)))`,
    );
    expect(s.build).toEqual([
      `CREATE UNIQUE INDEX "${names.indexes[0]}" ON ${N} USING btree ("Order", d)`,
      `ALTER TABLE ${N} ADD CONSTRAINT "${names.indexes[0]}" PRIMARY KEY USING INDEX "${names.indexes[0]}"`,
      `CREATE INDEX "${names.indexes[1]}" ON ${N} USING btree (note) TABLESPACE "fast disk" WHERE (note <> ' USING '::text)`,
      `ANALYZE ${N}`,
    ]);
  });

  it('detaches the leaf, attaches the replacement with the same bound, and gives back every name, the owner and the grants', () => {
    const s = leafStatements(leaf(), names, `${S} AS s`, columns);
    const L = '"My Schema"."Weird ""T"" 2026-06-01"';
    const N = `"My Schema"."${names.table}"`;
    expect(s.swap).toEqual([
      `ALTER TABLE ${T} DETACH PARTITION ${L}`,
      `ALTER TABLE ${T} ATTACH PARTITION ${N} FOR VALUES FROM ('2026-06-01') TO ('2026-06-02')`,
      `DROP TABLE ${L}`,
      `ALTER TABLE ${N} RENAME TO "Weird ""T"" 2026-06-01"`,
      `ALTER TABLE ${L} RENAME CONSTRAINT "${names.indexes[0]}" TO "leaf pkey"`,
      `ALTER INDEX "My Schema"."${names.indexes[1]}" RENAME TO "leaf note"`,
      `ALTER TABLE ${L} DROP CONSTRAINT "${names.check}"`,
      `ALTER TABLE ${L} OWNER TO "app ""owner"""`,
      `REVOKE ALL ON TABLE ${L} FROM "app ""owner"""`,
      `GRANT SELECT ON TABLE ${L} TO "app ""owner"""`,
      `GRANT SELECT ON TABLE ${L} TO "reader"`,
      `GRANT SELECT ON TABLE ${L} TO PUBLIC`,
      `COMMENT ON TABLE ${L} IS 'day''s rows'`,
    ]);
  });

  it('keeps the default privileges of a leaf that has no explicit grants, and builds an unlogged leaf unlogged', () => {
    const s = leafStatements(leaf({ grants: null, unlogged: true, options: [], indexes: [] }), names, `${S} AS s`, columns);
    expect(s.swap.some((x) => x.startsWith('GRANT') || x.startsWith('REVOKE'))).toBe(false);
    expect(s.create[0]).toMatch(/^CREATE UNLOGGED TABLE .*COMMENTS\)$/);
  });

  it('gives each run and each leaf its own short temporary names', () => {
    const other = leafTempNames(partitionTempPrefix({ schema: 'pgferry_staging', name: 'other' }), 1, leaf());
    expect(other.table).not.toBe(names.table);
    expect(leafTempNames(partitionTempPrefix(staging), 2, leaf()).table).not.toBe(names.table);
    expect(names.indexes).toEqual([`${names.table}_c1`, `${names.table}_i2`]);
    for (const n of [names.table, names.check, ...names.indexes]) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(63);
  });

  it('refuses an index definition it cannot read rather than guess', () => {
    const bad = leaf({ indexes: [{ name: 'x', definition: 'something else' }] });
    expect(() => leafStatements(bad, leafTempNames('p', 1, bad), `${S} AS s`, columns)).toThrow(/cannot read the definition of index x/);
  });
});

describe('Function: stagedSource', () => {
  it('reads staging as is when the types agree, and casts the partition column to the target type otherwise', () => {
    expect(stagedSource(staging, columns, { name: 'd', type: 'date', cast: false })).toBe(`${S} AS s`);
    expect(stagedSource(staging, columns, { name: 'd', type: 'date', cast: true })).toBe(`(SELECT "Order", CAST("d" AS date) AS "d", "note" FROM ${S}) AS s`);
  });
});

describe('Function: values and leaf probes', () => {
  const values = valuesTable(staging);
  const V = '"pgferry_staging"."Weird stage_pv"';

  it('collects the distinct values in the target type, indexed', () => {
    expect(valuesTableSql(values, staging, { name: 'Order', type: 'bigint', cast: true }, { index: true })).toEqual([
      `DROP TABLE IF EXISTS ${V}`,
      `CREATE UNLOGGED TABLE ${V} AS SELECT DISTINCT CAST("Order" AS bigint) AS "Order" FROM ${S}`,
      `CREATE INDEX ON ${V} ("Order")`,
      `ANALYZE ${V}`,
    ]);
  });

  it('probes each leaf with one EXISTS over its partition constraint, leaving out values that found leaves already take', () => {
    const sql = leavesHoldingSql(
      values,
      [
        { oid: '1', constraint: 'c1' },
        { oid: '2', constraint: 'c2' },
      ],
      ['x1'],
    );
    expect(sql).toBe(
      [
        `SELECT 1::int8 AS leaf WHERE EXISTS (SELECT 1 FROM ${V} WHERE (c1) AND NOT COALESCE((x1), false))`,
        `SELECT 2::int8 AS leaf WHERE EXISTS (SELECT 1 FROM ${V} WHERE (c2) AND NOT COALESCE((x1), false))`,
      ].join('\nUNION ALL\n'),
    );
    expect(() => leavesHoldingSql(values, [{ oid: '1; DROP TABLE canary', constraint: 'true' }])).toThrow(/expected an OID/);
  });

  it('lists values outside every found leaf, NULL first', () => {
    expect(valuesOutsideSql(values, 'Order', ['c1', 'c2'])).toBe(
      `SELECT count(*) OVER ()::int8 AS n, CAST("Order" AS text) AS value FROM ${V} WHERE NOT COALESCE((c1) OR (c2), false) ORDER BY 2 NULLS FIRST LIMIT 5`,
    );
    expect(valuesOutsideSql(values, 'Order', [])).toContain('WHERE NOT false');
  });

  it('replaces the values of a DEFAULT partition by delete/insert, inserting through the root only rows no rebuilt leaf took', () => {
    const def = { schema: 'My Schema', name: 'default "part"' };
    const sql = byValueSql(target, [def], values, 'Order', ['c1'], `${S} AS s`, columns, { hasNull: true });
    expect(sql.delete).toEqual([
      `DELETE FROM ONLY "My Schema"."default ""part""" WHERE "Order" IN (SELECT v."Order" FROM ${V} AS v WHERE NOT COALESCE((c1), false))`,
      `DELETE FROM ONLY "My Schema"."default ""part""" WHERE "Order" IS NULL`,
    ]);
    expect(sql.insert).toBe(`INSERT INTO ${T} ("Order", "d", "note") SELECT s."Order", s."d", s."note" FROM ${S} AS s WHERE NOT COALESCE((c1), false)`);
  });
});

describe('Function: shadow_swap SQL', () => {
  it('names the shadow beside the staging table', () => {
    expect(shadowTable(staging)).toEqual({ schema: 'pgferry_staging', name: 'Weird stage_swap' });
    expect(() => shadowTable({ schema: 's', name: 'x'.repeat(59) })).toThrow(/longer than 63 bytes/);
    expect(createShadowSql(shadowTable(staging), columns, { unlogged: false })).toEqual([
      'DROP TABLE IF EXISTS "pgferry_staging"."Weird stage_swap"',
      'CREATE TABLE "pgferry_staging"."Weird stage_swap" ("Order" integer, "d" date, "note" text)',
    ]);
  });

  it('matches keys with = on NOT NULL columns and NULL-safely on nullable ones', () => {
    expect(
      shadowKeyMatch(
        [
          { name: 'Order', notNull: true },
          { name: 'k', notNull: false },
        ],
        't',
        's',
      ),
    ).toBe('t."Order" = s."Order" AND (t."k" = s."k" OR (t."k" IS NULL AND s."k" IS NULL))');
  });

  it('keeps target rows whose key is not staged with one hashable anti-join when the key is NOT NULL', () => {
    expect(keepTargetRowsSql(shadowTable(staging), target, staging, columns, [{ name: 'Order', notNull: true }])).toBe(
      `INSERT INTO "pgferry_staging"."Weird stage_swap" ("Order", "d", "note") SELECT t."Order", t."d", t."note" FROM ${T} AS t\n` +
        `WHERE NOT EXISTS (SELECT 1 FROM ${S} AS s WHERE t."Order" = s."Order")`,
    );
  });

  it('splits a nullable key into one hashable anti-join per pattern of NULLs', () => {
    expect(
      notStagedSql(
        [
          { name: 'Order', notNull: true },
          { name: 'k', notNull: false },
        ],
        staging,
      ),
    ).toBe(
      [
        `NOT EXISTS (SELECT 1 FROM ${S} AS s WHERE t."Order" = s."Order" AND t."k" = s."k")`,
        `NOT EXISTS (SELECT 1 FROM ${S} AS s WHERE t."Order" = s."Order" AND s."k" IS NULL AND t."k" IS NULL)`,
      ].join('\n  AND '),
    );
    expect(
      notStagedSql(
        [
          { name: 'a', notNull: false },
          { name: 'b', notNull: false },
        ],
        staging,
      ).split('NOT EXISTS').length - 1,
    ).toBe(4);
  });

  it('falls back to the plain NULL-safe form beyond four nullable key columns', () => {
    const keys = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, notNull: false }));
    const sql = notStagedSql(keys, staging);
    expect(sql).toBe(`NOT EXISTS (SELECT 1 FROM ${S} AS s WHERE ${shadowKeyMatch(keys, 't', 's')})`);
  });
});

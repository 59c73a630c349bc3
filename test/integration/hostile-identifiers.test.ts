/**
 * Hostile names: every schema, table and column name a pipeline file gives reaches SQL
 * quoted, whatever it holds. Fixed cases at the 63-byte limit, then a seeded fuzz of random nasty names.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePipeline, type PipelineConfig } from '../../lib/config/index.ts';
import { runLocal } from '../../lib/local/runner.ts';
import { truncateBytes } from '../../lib/sink/staging.ts';
import { ident, literal, qualified, type TableName } from '../../lib/sql/quote.ts';
import type { RunSummary } from '../../lib/state/types.ts';
import { rowHashes } from '../helpers/compare.ts';
import { useSourceAndTarget } from '../helpers/pg.ts';

const MAX = 63;

/** `prefix` padded with `pad` (then `x`) to exactly 63 UTF-8 bytes. */
function exactly63(prefix: string, pad: string): string {
  let name = truncateBytes(prefix, MAX);
  while (Buffer.byteLength(name + pad) <= MAX) name += pad;
  while (Buffer.byteLength(name) < MAX) name += 'x';
  return name;
}

const SRC_SCHEMA = 'Src "Sch"; DROP TABLE canary;--';
const SRC_TABLE = exactly63('Weird "T"; DROP TABLE canary;-- /*é', '€');
const TGT_SCHEMA = 'Tgt \'sch\' \\ ü "x" ; select';
const STAGING_SCHEMA = 'Stg "$$"; /* */ -- select';
const STATE_SCHEMA = exactly63(`St'ate "ü" \\ ; order `, 'ß');

/** Column names: reserved words, quotes, comment and parameter markers, and multi-byte names at the limit. */
const COL = {
  key: '"a"."b"',
  cursor: `Up"dated' At \\ $1 %s`,
  select: 'select',
  user: 'user',
  order: 'order',
  table: 'table',
  semi: 'semi;colon -- /* x */',
  dollar: '$$ body $$',
  quote: "it's",
  wide: exactly63('', '€'),
  mixed: exactly63('ü "x" ', 'é'),
} as const;

const SOURCE: TableName = { schema: SRC_SCHEMA, name: SRC_TABLE };

describe('Feature: hostile identifiers reach SQL quoted', () => {
  const db = useSourceAndTarget();
  /** Cursor values only grow, so every change is inside the next window. */
  let tick = 0;

  beforeAll(async () => {
    for (const client of [db.source, db.target]) await client.query('CREATE TABLE public.canary (x int); INSERT INTO public.canary VALUES (1)');
    await db.source.query(`CREATE SCHEMA ${ident(SRC_SCHEMA)}`);
    await db.source.query(`CREATE TABLE ${qualified(SOURCE)} (
  ${ident(COL.key)} bigint PRIMARY KEY,
  ${ident(COL.cursor)} timestamptz(6) NOT NULL,
  ${ident(COL.select)} text,
  ${ident(COL.user)} text,
  ${ident(COL.order)} integer,
  ${ident(COL.table)} numeric(12,2),
  ${ident(COL.semi)} jsonb,
  ${ident(COL.dollar)} text,
  ${ident(COL.quote)} text,
  ${ident(COL.wide)} text,
  ${ident(COL.mixed)} date
)`);
    await insertRows(1, 500);
    await db.target.query(`CREATE SCHEMA ${ident(TGT_SCHEMA)}`);
  });

  async function insertRows(from: number, to: number): Promise<void> {
    tick += 1;
    await db.source.query(`INSERT INTO ${qualified(SOURCE)} SELECT g,
  timestamptz '2026-01-01 00:00:00+00' + ${tick} * interval '1 hour' + g * interval '1 millisecond',
  CASE WHEN g % 7 = 0 THEN NULL ELSE 'sel''ect ' || g END,
  'user "' || g || '" \\ ;--',
  g % 13,
  g / 100.0,
  jsonb_build_object('k', g, 'q', 'it''s "x"'),
  '$$' || g || '$$',
  'quote '' ' || g,
  repeat('€', g % 5),
  date '2026-01-01' + g % 30
FROM generate_series(${from}, ${to}) g`);
  }

  /** Updates some rows, moving their cursor past every earlier value. */
  async function updateRows(mod: number): Promise<void> {
    tick += 1;
    await db.source.query(`UPDATE ${qualified(SOURCE)} SET ${ident(COL.user)} = ${ident(COL.user)} || ' upd', ${ident(COL.order)} = ${ident(COL.order)} + 1,
  ${ident(COL.cursor)} = timestamptz '2026-01-01 00:00:00+00' + ${tick} * interval '1 hour' + ${ident(COL.key)} * interval '1 millisecond'
WHERE ${ident(COL.key)} % ${mod} = 0`);
  }

  function pipeline(name: string, targetTable: string, strategy: Record<string, unknown>, options: Record<string, unknown> = {}): PipelineConfig {
    const doc = {
      name,
      source: {
        type: 'postgres',
        connection_type: 'url',
        connection_id: db.sourceUrl,
        table: { schema: SRC_SCHEMA, name: SRC_TABLE },
        options: { chunk_column: COL.key, chunk_rows: 120, ...options },
      },
      sink: {
        type: 'postgres',
        connection_type: 'url',
        connection_id: db.targetUrl,
        table: { schema: TGT_SCHEMA, name: targetTable },
        staging: { schema: STAGING_SCHEMA },
        strategy,
      },
      state: { schema: STATE_SCHEMA },
    };
    return parsePipeline(JSON.stringify(doc), `${name}.yaml`);
  }

  const incremental = { incremental_strategy: 'column', incremental_column: COL.cursor };

  async function ok(run: Promise<RunSummary>): Promise<RunSummary> {
    const summary = await run;
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    return summary;
  }

  async function expectEqual(targetTable: string): Promise<void> {
    const t = qualified({ schema: TGT_SCHEMA, name: targetTable });
    expect(await rowHashes(db.target, t)).toEqual(await rowHashes(db.source, qualified(SOURCE)));
  }

  async function expectCanaries(): Promise<void> {
    for (const client of [db.source, db.target]) {
      expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM public.canary')).rows[0]?.n).toBe(1);
    }
  }

  async function expectNoStagingLeft(): Promise<void> {
    const left = await db.target.query(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`, [STAGING_SCHEMA]);
    expect(left.rows).toEqual([]);
  }

  it('the fixed names are at the limit: 63 bytes, multi-byte included', () => {
    for (const name of [SRC_TABLE, STATE_SCHEMA, COL.wide, COL.mixed]) expect(Buffer.byteLength(name)).toBe(MAX);
    expect(COL.wide.length).toBe(21);
  });

  it('full_refresh / truncate_insert', async () => {
    const table = exactly63('truncate "T"; DROP TABLE canary;--', 'é');
    const config = pipeline('hostile-truncate', table, { mode: 'full_refresh' });
    expect((await ok(runLocal(config))).rowsInserted).toBe(500);
    await expectEqual(table);
    await updateRows(5);
    await db.source.query(`DELETE FROM ${qualified(SOURCE)} WHERE ${ident(COL.key)} % 11 = 0`);
    await insertRows(501, 520);
    await ok(runLocal(config));
    await expectEqual(table);
    await expectNoStagingLeft();
    await expectCanaries();
  });

  it('full_refresh / exchange, carrying over an index, a trigger and comments with hostile names', async () => {
    const table = exactly63(`exchange 'T' "x"; DROP TABLE canary;--`, '€');
    const t = qualified({ schema: TGT_SCHEMA, name: table });
    const fn = qualified({ schema: TGT_SCHEMA, name: 'trg "fn"; --' });
    // Same columns and types as the source, created here so exchange has something to carry over.
    const columns = (
      await db.source.query<{ name: string; type: string }>(
        `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [qualified(SOURCE)],
      )
    ).rows;
    await db.target.query(`CREATE TABLE ${t} (${columns.map((c) => `${ident(c.name)} ${c.type}`).join(', ')}, PRIMARY KEY (${ident(COL.key)}))`);
    await db.target.query(`CREATE INDEX ${ident('idx "x"; --')} ON ${t} (${ident(COL.cursor)}) WHERE ${ident(COL.select)} <> ' USING '`);
    await db.target.query(`COMMENT ON TABLE ${t} IS ${literal("it's; -- /* a comment */")}`);
    await db.target.query(`COMMENT ON COLUMN ${t}.${ident(COL.quote)} IS ${literal('col "c"')}`);
    await db.target.query(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $f$BEGIN RETURN NEW; END$f$`);
    await db.target.query(`CREATE TRIGGER ${ident('trg "x" ON y')} BEFORE INSERT ON ${t} FOR EACH ROW EXECUTE FUNCTION ${fn}()`);

    const config = pipeline('hostile-exchange', table, { mode: 'full_refresh', overwrite_type: 'exchange' });
    await ok(runLocal(config));
    await expectEqual(table);
    await updateRows(3);
    await insertRows(521, 540);
    await ok(runLocal(config));
    await expectEqual(table);
    const kept = await db.target.query<{ index: boolean; trigger: boolean; comment: string }>(
      `SELECT to_regclass($1) IS NOT NULL AS index,
  EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($2) AND tgname = 'trg "x" ON y') AS trigger,
  obj_description(to_regclass($2), 'pg_class') AS comment`,
      [qualified({ schema: TGT_SCHEMA, name: 'idx "x"; --' }), t],
    );
    expect(kept.rows[0]).toEqual({ index: true, trigger: true, comment: "it's; -- /* a comment */" });
    await expectNoStagingLeft();
    await expectCanaries();
  });

  it('incremental_merge / delete_insert on a composite, nullable hostile key, with a hostile cursor and chunk column', async () => {
    const table = exactly63('merge "di"; DROP TABLE canary;--', 'ß');
    const config = pipeline('hostile-delete-insert', table, { mode: 'incremental_merge', unique_key: [COL.key, COL.select] }, incremental);
    await ok(runLocal(config));
    await expectEqual(table);
    await updateRows(4);
    await insertRows(541, 560);
    const second = await ok(runLocal(config));
    expect(second.rowsDeleted).toBeGreaterThan(0);
    await expectEqual(table);
    await expectNoStagingLeft();
    await expectCanaries();
  });

  it('incremental_merge / upsert', async () => {
    const table = exactly63(`upsert $1 %s 'T'; DROP TABLE canary;--`, 'é');
    const config = pipeline(
      'hostile-upsert',
      table,
      { mode: 'incremental_merge', unique_key: [COL.key], merge_policy: 'upsert', duplicate_policy: 'keep_last' },
      incremental,
    );
    await ok(runLocal(config));
    await expectEqual(table);
    await updateRows(6);
    await insertRows(561, 580);
    await ok(runLocal(config));
    await expectEqual(table);
    await expectCanaries();
  });

  it('incremental_append with unique_key and lookback (key filter on the overlap)', async () => {
    const table = exactly63('append key "T"; DROP TABLE canary;--', '€');
    const config = pipeline('hostile-append-key', table, { mode: 'incremental_append', unique_key: [COL.key] }, { ...incremental, lookback: '2 hours' });
    await ok(runLocal(config));
    await expectEqual(table);
    await insertRows(581, 600);
    await ok(runLocal(config));
    await expectEqual(table);
    await expectCanaries();
  });

  it('incremental_append without a key (whole-row filter on the overlap) and with only_new_rows', async () => {
    const plain = exactly63('append rows "T"; --', 'é');
    const onlyNew = exactly63('append new "T"; --', 'é');
    const configs = [
      [plain, pipeline('hostile-append-rows', plain, { mode: 'incremental_append' }, incremental)],
      [onlyNew, pipeline('hostile-append-new', onlyNew, { mode: 'incremental_append', only_new_rows: true, unique_key: [COL.key] }, incremental)],
    ] as const;
    for (const [, config] of configs) await ok(runLocal(config));
    await insertRows(601, 620);
    for (const [table, config] of configs) {
      await ok(runLocal(config));
      await expectEqual(table);
    }
    await expectCanaries();
  });

  it('the state lives in the hostile state schema', async () => {
    const runs = await db.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ident(STATE_SCHEMA)}.runs WHERE status = 'succeeded'`);
    expect(runs.rows[0]?.n).toBeGreaterThanOrEqual(12);
  });

  describe('fuzz: random names from a nasty alphabet', () => {
    const seed = Number(process.env.PGFERRY_FUZZ_SEED ?? Date.now() % 2 ** 31);
    const iterations = Number(process.env.PGFERRY_FUZZ_ITERATIONS ?? 30);
    const alphabet = [
      '"',
      "'",
      '\\',
      ' ',
      ';',
      '--',
      '$$',
      '$1',
      '%s',
      '/*',
      '*/',
      '.',
      ',',
      '(',
      ')',
      '\t',
      'é',
      '€',
      '𝄞',
      'ß',
      'a',
      'Z',
      '0',
      '_',
      'select',
      'user',
      'DROP TABLE canary',
    ];
    const strategies: Record<string, unknown>[] = [
      { mode: 'full_refresh' },
      { mode: 'full_refresh', overwrite_type: 'exchange' },
      { mode: 'incremental_merge' },
      { mode: 'incremental_merge', merge_policy: 'upsert' },
      { mode: 'incremental_append', only_new_rows: true },
      { mode: 'incremental_append' },
    ];

    /** mulberry32: small, seeded, good enough to pick characters. */
    function prng(start: number): () => number {
      let a = start >>> 0;
      return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    it(`runs pipelines on ${iterations} sets of random names (seed ${seed}; rerun with PGFERRY_FUZZ_SEED=${seed})`, async () => {
      const random = prng(seed);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
      const used = new Set<string>(['public', 'pgferry', 'pgferry_staging', 'canary', 'pg_catalog', 'information_schema']);
      const randomName = (): string => {
        for (;;) {
          const bytes = 1 + Math.floor(random() * MAX);
          let name = '';
          for (;;) {
            const next = name + pick(alphabet);
            if (Buffer.byteLength(next) > bytes) break;
            name = next;
          }
          // pg_* schema names are reserved; names must differ from each other (a column set, a schema set).
          if (name !== '' && !name.startsWith('pg_') && !used.has(name)) {
            used.add(name);
            return name;
          }
        }
      };
      for (let i = 0; i < iterations; i += 1) {
        const names = {
          srcSchema: randomName(),
          srcTable: randomName(),
          tgtSchema: randomName(),
          tgtTable: randomName(),
          staging: randomName(),
          state: randomName(),
          key: randomName(),
          cursor: randomName(),
          a: randomName(),
          b: randomName(),
        };
        const strategy = strategies[i % strategies.length] as Record<string, unknown>;
        const context = `seed ${seed}, iteration ${i}, ${JSON.stringify(strategy)}, names ${JSON.stringify(names)}`;
        const src = qualified({ schema: names.srcSchema, name: names.srcTable });
        await db.source.query(`CREATE SCHEMA ${ident(names.srcSchema)}`);
        await db.source.query(
          `CREATE TABLE ${src} (${ident(names.key)} bigint PRIMARY KEY, ${ident(names.cursor)} bigint NOT NULL, ${ident(names.a)} text, ${ident(names.b)} numeric)`,
        );
        await db.source.query(`INSERT INTO ${src} SELECT g, g, ${literal(names.a)} || g, g * 1.5 FROM generate_series(1, 60) g`);
        await db.target.query(`CREATE SCHEMA ${ident(names.tgtSchema)}`);
        const keyed = strategy.mode === 'incremental_merge' || strategy.only_new_rows === true;
        const doc = {
          name: `fuzz-${i}`,
          source: {
            type: 'postgres',
            connection_type: 'url',
            connection_id: db.sourceUrl,
            table: { schema: names.srcSchema, name: names.srcTable },
            options:
              strategy.mode === 'full_refresh'
                ? { chunk_column: names.key, chunk_rows: 25 }
                : { incremental_strategy: 'column', incremental_column: names.cursor, chunk_column: names.key, chunk_rows: 25 },
          },
          sink: {
            type: 'postgres',
            connection_type: 'url',
            connection_id: db.targetUrl,
            table: { schema: names.tgtSchema, name: names.tgtTable },
            staging: { schema: names.staging },
            strategy: { ...strategy, ...(keyed ? { unique_key: [names.key] } : {}) },
          },
          state: { schema: names.state },
        };
        const config = parsePipeline(JSON.stringify(doc), `fuzz-${i}.yaml`);
        const tgt = qualified({ schema: names.tgtSchema, name: names.tgtTable });
        const first = await runLocal(config);
        expect(first.error, context).toBeUndefined();
        await db.source.query(`INSERT INTO ${src} SELECT g, g, 'new' || g, g FROM generate_series(61, 80) g`);
        if (strategy.mode !== 'incremental_append') {
          await db.source.query(
            `UPDATE ${src} SET ${ident(names.a)} = 'changed', ${ident(names.cursor)} = ${ident(names.cursor)} + 1000 WHERE ${ident(names.key)} % 3 = 0`,
          );
        }
        const second = await runLocal(config);
        expect(second.error, context).toBeUndefined();
        expect(second.status, context).toBe('succeeded');
        expect(await rowHashes(db.target, tgt), context).toEqual(await rowHashes(db.source, src));
      }
      await expectCanaries();
    });
  });
});

/**
 * The soak's source side: a table whose every committed row version is logged by a trigger in a history
 * table, and writer loops that insert, update and delete rows over several connections, with savepoints,
 * rollbacks and long transactions that commit (or roll back) late, across several pipeline runs.
 */
import type pg from 'pg';
import { ident } from '../../lib/sql/quote.ts';

/** What one scenario's writers did. */
export interface WriterStats {
  commits: number;
  rollbacks: number;
  inserts: number;
  updates: number;
  deletes: number;
  longTransactions: number;
  /** Longest time from BEGIN to the end of COMMIT/ROLLBACK, any writer. */
  maxTransactionMs: number;
  /** Errors the writers hit (they roll back and go on); a healthy soak has none. */
  errors: string[];
}

/** A fresh {@link WriterStats}. */
export function emptyWriterStats(): WriterStats {
  return { commits: 0, rollbacks: 0, inserts: 0, updates: 0, deletes: 0, longTransactions: 0, maxTransactionMs: 0, errors: [] };
}

/** Names of a soak table and its companions. */
export interface SoakTable {
  readonly name: string;
  readonly history: string;
  readonly sequence: string;
}

/** The soak table of a scenario. */
export function soakTable(name: string): SoakTable {
  return { name, history: `${name}_history`, sequence: `${name}_ids` };
}

/**
 * Creates the source table, its history and the trigger that logs every row version (`md5(row::text)`,
 * comparable with the target's `md5(t::text)`), and seeds `rows` rows. A rolled-back write leaves no
 * history, so the history holds exactly the committed versions.
 */
export async function createSoakTable(db: pg.Client, table: SoakTable, rows: number): Promise<void> {
  const t = ident(table.name);
  const h = ident(table.history);
  await db.query(`
CREATE TABLE public.${t} (
  id bigint PRIMARY KEY,
  ver integer NOT NULL,
  grp integer NOT NULL,
  amount numeric(14,4),
  note text,
  payload jsonb,
  flag boolean,
  updated_at timestamptz(6) NOT NULL
);
CREATE INDEX ON public.${t} (updated_at);
CREATE SEQUENCE public.${ident(table.sequence)} START ${rows + 1};
CREATE TABLE public.${h} (id bigint NOT NULL, ver integer NOT NULL, op "char" NOT NULL, h text, logged_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE UNIQUE INDEX ON public.${h} (id, ver) WHERE op <> 'D';
CREATE FUNCTION public.${ident(`${table.name}_log`)}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO public.${h} (id, ver, op) VALUES (OLD.id, OLD.ver, 'D');
    RETURN OLD;
  END IF;
  INSERT INTO public.${h} (id, ver, op, h) VALUES (NEW.id, NEW.ver, left(TG_OP, 1), md5(NEW::text));
  RETURN NEW;
END $$;
CREATE TRIGGER log_versions AFTER INSERT OR UPDATE OR DELETE ON public.${t} FOR EACH ROW EXECUTE FUNCTION public.${ident(`${table.name}_log`)}();
`);
  await db.query(
    `INSERT INTO public.${t} SELECT g, 1, g % 97, ${amountSql}, ${noteSql('g')}, ${payloadSql('g')}, g % 3 = 0,
  timestamptz '2026-01-01 00:00:00+00' + g * interval '1.000001 second' FROM generate_series(1, $1) g`,
    [rows],
  );
}

/** Values that make the binary COPY earn its keep: NULLs, quotes, tabs, newlines, backslashes, unicode, long text. */
function noteSql(seed: string): string {
  return `(ARRAY[NULL, 'O''Brien said "hi"', E'tab\\there', E'line\\nbreak', E'back\\\\slash', 'ünïcødé ✓ 日本', repeat('x', 300), ''])[1 + (${seed} % 8)]`;
}
const amountSql = `round((random() * 2000000 - 1000000)::numeric, 4)`;
function payloadSql(seed: string): string {
  return `CASE WHEN ${seed} % 5 = 0 THEN NULL ELSE jsonb_build_object('n', ${seed}, 'tags', jsonb_build_array('a', ${seed} % 7), 'f', 1.5) END`;
}

/** How a writer behaves. */
export interface WriterOptions {
  readonly table: SoakTable;
  /** Rows may be updated (merge scenarios); otherwise the writer only inserts new keys. */
  readonly updates: boolean;
  /** Rows may be deleted (merge scenarios). */
  readonly deletes: boolean;
  /** Holds each transaction open for `longMs` (a random part of it) before committing or rolling back. */
  readonly long?: { readonly minMs: number; readonly maxMs: number };
  /** Pause between transactions. */
  readonly pauseMs: readonly [number, number];
  /** Highest id handed out so far (shared by the scenario's writers), for picking rows to change. */
  readonly ids: { hi: number };
  readonly stats: WriterStats;
  readonly stopped: () => boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const between = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1));

/** Ids to change: half among the newest rows (they sit in the window), half anywhere. */
function pickIds(ids: { hi: number }, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i += 1) out.push(Math.random() < 0.5 ? between(Math.max(1, ids.hi - 200), ids.hi) : between(1, ids.hi));
  return out;
}

/** One write statement; returns rows affected. `clock` picks clock_timestamp() over now() for updated_at. */
async function writeOnce(db: pg.Client, o: WriterOptions, kind: 'insert' | 'update' | 'delete', clock: boolean): Promise<number> {
  const t = `public.${ident(o.table.name)}`;
  const ts = clock ? 'clock_timestamp()' : 'now()';
  if (kind === 'insert') {
    const r = await db.query<{ id: string }>(
      `INSERT INTO ${t} SELECT nextval('public.${ident(o.table.sequence)}'), 1, g % 97, ${amountSql}, ${noteSql('(g + (random() * 8)::int)')},
  ${payloadSql('(g + (random() * 5)::int)')}, random() < 0.5, ${ts} FROM generate_series(1, $1) g RETURNING id`,
      [between(1, 4)],
    );
    for (const row of r.rows) o.ids.hi = Math.max(o.ids.hi, Number(row.id));
    o.stats.inserts += r.rowCount ?? 0;
    return r.rowCount ?? 0;
  }
  // SKIP LOCKED: writers never wait on each other's row locks (no deadlocks), long transactions' rows are skipped.
  const pick = `id IN (SELECT id FROM ${t} WHERE id = ANY($1::bigint[]) FOR UPDATE SKIP LOCKED)`;
  if (kind === 'update') {
    const r = await db.query(
      `UPDATE ${t} SET ver = ver + 1, amount = ${amountSql}, note = ${noteSql('(ver + (random() * 8)::int)')},
  payload = ${payloadSql('(ver + (random() * 5)::int)')}, flag = NOT coalesce(flag, false), updated_at = ${ts} WHERE ${pick}`,
      [pickIds(o.ids, between(1, 3))],
    );
    o.stats.updates += r.rowCount ?? 0;
    return r.rowCount ?? 0;
  }
  const r = await db.query(`DELETE FROM ${t} WHERE ${pick}`, [pickIds(o.ids, 1)]);
  o.stats.deletes += r.rowCount ?? 0;
  return r.rowCount ?? 0;
}

function pickKind(o: WriterOptions): 'insert' | 'update' | 'delete' {
  const r = Math.random();
  if (!o.updates) return 'insert';
  if (o.deletes && r < 0.1) return 'delete';
  return r < 0.45 ? 'insert' : 'update';
}

/**
 * Writes until `stopped()`: transactions of 1-4 statements, some with a savepoint rolled back or released,
 * 10% rolled back (25% for long ones). Counters of a rolled-back transaction are not undone: they count
 * statements executed, the history counts what committed.
 */
export async function writerLoop(db: pg.Client, o: WriterOptions): Promise<void> {
  while (!o.stopped()) {
    const started = Date.now();
    try {
      await db.query('BEGIN');
      const statements = between(1, 4);
      for (let i = 0; i < statements; i += 1) {
        if (Math.random() < 0.15) {
          await db.query('SAVEPOINT s');
          await writeOnce(db, o, pickKind(o), Math.random() < 0.5);
          await db.query(Math.random() < 0.5 ? 'ROLLBACK TO SAVEPOINT s' : 'RELEASE SAVEPOINT s');
        } else {
          await writeOnce(db, o, pickKind(o), Math.random() < 0.5);
        }
        if (o.long && i === 0) {
          // The first statement took now(): a long transaction commits rows older than runs that happened meanwhile.
          o.stats.longTransactions += 1;
          await sleep(between(o.long.minMs, o.long.maxMs));
        }
      }
      const rollback = Math.random() < (o.long ? 0.25 : 0.1);
      await db.query(rollback ? 'ROLLBACK' : 'COMMIT');
      if (rollback) o.stats.rollbacks += 1;
      else o.stats.commits += 1;
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      if (o.stats.errors.length < 20) o.stats.errors.push(String((error as Error).message));
    }
    o.stats.maxTransactionMs = Math.max(o.stats.maxTransactionMs, Date.now() - started);
    await sleep(between(o.pauseMs[0], o.pauseMs[1]));
  }
}

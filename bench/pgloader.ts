/**
 * pgloader, for comparison only (no target is set on it): the same source table into an equally indexed table
 * of the same name in the target database, data only, run when `pgloader` is on PATH.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { measure, type Measured } from './measure.ts';

/**
 * Heap of pgloader's Lisp runtime, MB. Debian's build starts with 1 GB, which pgloader exhausts on the bench's
 * default table ("Heap exhausted, game over") with its default batches.
 */
export const PGLOADER_HEAP_MB = 4096;

/** pgloader's spelling of a postgres:// or postgresql:// URL. */
export function pgloaderUrl(url: string): string {
  return url.replace(/^postgres(?:ql)?:\/\//, 'pgsql://');
}

/**
 * The load command: rows only (the target table exists with its primary key and index, as for the pipe),
 * truncated first. pgloader loads `schema.table` of the source into the same name in the target.
 */
export function pgloaderCommand(urls: { source: string; target: string }, table: string): string {
  const [schema, name] = table.includes('.') ? (table.split('.', 2) as [string, string]) : ['public', table];
  const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return `LOAD DATABASE
  FROM ${pgloaderUrl(urls.source)}
  INTO ${pgloaderUrl(urls.target)}
  WITH data only, truncate
  INCLUDING ONLY TABLE NAMES MATCHING ~/^${escaped}$/ IN SCHEMA '${schema}';
`;
}

/** Runs pgloader once, measured; its logs and reject files go to `dir`. Throws unless it exits 0. */
export async function runPgloader(dir: string, urls: { source: string; target: string }, table: string): Promise<Measured> {
  const file = join(dir, 'pgloader.load');
  await writeFile(file, pgloaderCommand(urls, table));
  const measured = await measure('pgloader', [
    '--dynamic-space-size',
    String(PGLOADER_HEAP_MB),
    '--root-dir',
    join(dir, 'pgloader'),
    '--client-min-messages',
    'error',
    file,
  ]);
  if (measured.code !== 0)
    throw new Error(`pgloader failed (exit ${measured.code}): ${(measured.stderr + measured.stdout).trim().split('\n').slice(-6).join('\n')}`);
  return measured;
}

/** The reference: a plain binary COPY pipe between the two databases, into a logged table with a PK and one index. */
import { join } from 'node:path';
import { columnList, type Shape } from './dataset.ts';
import { measure, type Measured } from './measure.ts';
import type { PipeKind } from './options.ts';
import { ROOT } from './pgferry.ts';

/** What one pipe runs: the two COPY statements, then optionally one statement on the target's connection. */
export interface PipeStatements {
  readonly copyTo: string;
  readonly copyFrom: string;
  readonly then?: string;
}

/** The two COPY statements of the pipe; `where` filters the source rows. */
export function pipeStatements(shape: Shape, sourceTable: string, targetTable: string, where?: string): PipeStatements {
  const columns = columnList(shape);
  return {
    copyTo: `COPY (SELECT ${columns} FROM ${sourceTable}${where ? ` WHERE ${where}` : ''}) TO STDOUT (FORMAT binary)`,
    copyFrom: `COPY ${targetTable} (${columns}) FROM STDIN (FORMAT binary)`,
  };
}

/**
 * Runs the pipe once, measured: `psql -c "COPY ... TO STDOUT" | psql -c "COPY ... FROM STDIN" [-c "then"]`,
 * or the same with pg-copy-streams.
 */
export async function runPipe(kind: PipeKind, urls: { source: string; target: string }, statements: PipeStatements): Promise<Measured> {
  const { copyTo, copyFrom, then } = statements;
  const env = { PIPE_SOURCE_URL: urls.source, PIPE_TARGET_URL: urls.target, PIPE_COPY_TO: copyTo, PIPE_COPY_FROM: copyFrom, PIPE_THEN: then ?? '' };
  const measured =
    kind === 'psql'
      ? await measure(
          'bash',
          [
            '-c',
            `set -o pipefail; psql "$PIPE_SOURCE_URL" -X -q -v ON_ERROR_STOP=1 -c "$PIPE_COPY_TO" | psql "$PIPE_TARGET_URL" -X -q -v ON_ERROR_STOP=1 -c "$PIPE_COPY_FROM"${then ? ' -c "$PIPE_THEN"' : ''}`,
          ],
          env,
        )
      : await measure(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/copy-pipe.ts')], env);
  if (measured.code !== 0) throw new Error(`the ${kind} pipe failed (exit ${measured.code}): ${measured.stderr.slice(-2000)}`);
  return measured;
}

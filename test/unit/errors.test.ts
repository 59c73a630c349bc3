import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as errors from '../../lib/errors.ts';
import { ErrorNames, INTERNAL_ERROR_HINT, PartitionReplaceReasons, PgferryError } from '../../lib/errors.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One way to build each class, with `options` passed last; a class missing here fails the first test. */
const BUILD: Record<string, (options?: ErrorOptions) => PgferryError> = {
  PgferryError: (o) => new errors.PgferryError('boom', o),
  ConfigError: (o) => new errors.ConfigError('boom', o),
  ConnectionError: (o) => new errors.ConnectionError('boom', 'app@db:5432/orders', '28P01', o),
  ServerUnreachableError: (o) => new errors.ServerUnreachableError('boom', 'app@db:5432/orders', 'ECONNREFUSED', o),
  TransientDatabaseError: (o) => new errors.TransientDatabaseError('boom', '40001', o),
  DatabaseError: (o) => new errors.DatabaseError('boom', '42P01', o),
  DuplicateKeyError: (o) => new errors.DuplicateKeyError('boom', { id: '1' }, o),
  LeaseHeldError: (o) => new errors.LeaseHeldError('orders', 'run-1', '2026-06-03T12:00:00Z', o),
  LeaseLostError: (o) => new errors.LeaseLostError('orders', 'run-1', o),
  TaskBudgetExceededError: (o) => new errors.TaskBudgetExceededError('COPY', 900, o),
  TableRunFailedError: (o) => new errors.TableRunFailedError('sales.orders', { name: 'DuplicateKeyError', message: 'key (id) = (1) twice' }, o),
  NotSupportedError: (o) => new errors.NotSupportedError('boom', o),
  UnsafeTargetError: (o) => new errors.UnsafeTargetError('boom', o),
  IncompleteRunError: (o) => new errors.IncompleteRunError('boom', o),
  NullCursorError: (o) => new errors.NullCursorError('boom', 'updated_at', o),
  PartitionReplaceError: (o) =>
    new errors.PartitionReplaceError('boom', { reason: PartitionReplaceReasons.tooManyPartitions, partitions: { count: 3, limit: 2 } }, o),
  EmbeddedPostgresError: (o) => new errors.EmbeddedPostgresError('boom', o),
  InternalError: (o) => new errors.InternalError('boom', o),
};

/** Every class lib/errors.ts exports (anything exported whose prototype is an Error's). */
const exportedClasses: [string, abstract new (...args: never[]) => Error][] = Object.entries(errors as Record<string, unknown>).flatMap(([name, value]) =>
  typeof value === 'function' && value.prototype instanceof Error ? [[name, value as abstract new (...args: never[]) => Error]] : [],
);

describe('Module: lib/errors.ts', () => {
  it('has a way to build every exported error class in this test', () => {
    expect(exportedClasses.map(([name]) => name).sort()).toEqual(Object.keys(BUILD).sort());
  });

  it('lists every name in ErrorNames once', () => {
    const names = Object.values(ErrorNames);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(exportedClasses.map(([name]) => name).sort());
  });

  it.each(exportedClasses)('%s is a PgferryError named as in ErrorNames, after its class', (exported, cls) => {
    const error = BUILD[exported]!();
    expect(error).toBeInstanceOf(cls);
    expect(error).toBeInstanceOf(PgferryError);
    expect(error).toBeInstanceOf(Error);
    expect(Object.values(ErrorNames)).toContain(error.name);
    expect(error.name).toBe(exported);
    expect(error.message).not.toBe('');
  });

  it.each(exportedClasses)('%s passes its cause through ErrorOptions', (exported) => {
    const cause = new Error('underlying');
    expect(BUILD[exported]!({ cause }).cause).toBe(cause);
    expect(BUILD[exported]!().cause).toBeUndefined();
  });

  it('keeps the names the state machine and the CLI match on', () => {
    // Renaming any of these breaks deployed Retry/Catch fields and scripts that read the run summary.
    expect(ErrorNames).toMatchObject({
      config: 'ConfigError',
      connection: 'ConnectionError',
      serverUnreachable: 'ServerUnreachableError',
      transientDatabase: 'TransientDatabaseError',
      database: 'DatabaseError',
      duplicateKey: 'DuplicateKeyError',
      leaseHeld: 'LeaseHeldError',
      leaseLost: 'LeaseLostError',
      notSupported: 'NotSupportedError',
      unsafeTarget: 'UnsafeTargetError',
      incompleteRun: 'IncompleteRunError',
      nullCursor: 'NullCursorError',
      partitionReplace: 'PartitionReplaceError',
    });
    expect(errors.RETRYABLE_ERRORS).toEqual(['TransientDatabaseError', 'ServerUnreachableError']);
  });

  it('says an InternalError is a bug to report, after the message it was given', () => {
    expect(new errors.InternalError('apply needs a target connection').message).toBe(`apply needs a target connection (${INTERNAL_ERROR_HINT})`);
  });
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.[cm]?[jt]s$/.test(entry.name) ? [path] : [];
  });
}

describe('Rule: lib/ and lambdas/ raise only named errors', () => {
  // Regression guard: about 30 `throw new Error(...)` had crept into lib/, which the state machine and the CLI saw only as "Error".
  it('has no `new Error(` (nor a bare `Error(`) in any source file', () => {
    const files = [...sourceFiles(join(ROOT, 'lib')), ...sourceFiles(join(ROOT, 'lambdas'))];
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${relative(ROOT, file)}:${i + 1}` }))
        .filter(({ line }) => /(?<![\w.$])(?:new\s+)?(?:Type|Range)?Error\s*\(/.test(line))
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
    expect(found).toEqual([]);
  });

  it('defines every error class in lib/errors.ts', () => {
    const files = sourceFiles(join(ROOT, 'lib')).filter((file) => relative(ROOT, file) !== join('lib', 'errors.ts'));
    const found = files.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/class\s+(\w+)\s+extends\s+(\w*Error)\b/g)].map((m) => `${relative(ROOT, file)}: ${m[1]} extends ${m[2]}`),
    );
    expect(found).toEqual([]);
  });
});

describe('Document: docs/errors.md', () => {
  it('lists every name in ErrorNames, so the reference never falls behind the code', () => {
    const text = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const name of Object.values(ErrorNames)) expect(text, name).toContain(`| \`${name}\` |`);
  });
});

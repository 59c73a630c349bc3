/**
 * SQL text of the state database: pure functions that return a complete statement (text and values), so
 * `plan` can print them, unit tests can read them, and the modules lib/state/store.ts re-exports only execute them.
 */
export * from './schema-sql.ts';
export * from './lease-sql.ts';
export * from './cursor-sql.ts';
export * from './runs-sql.ts';
export * from './chunks-sql.ts';

import { describe, expect, it } from 'vitest';
import { describeValue, redactSecrets } from '../../lib/config/messages.ts';
import { scheduleProblem } from '../../lib/config/schedule.ts';
import { identifierProblem, readLookback, readPort, readStatementTimeout, timezoneProblem } from '../../lib/config/values.ts';

describe('Function: readLookback', () => {
  it.each<[unknown, string | number | undefined]>([
    ['5 minutes', '5 minutes'],
    ['5minutes', '5 minutes'],
    ['  90   seconds ', '90 seconds'],
    ['1 hour', '1 hour'],
    ['1 hours', '1 hour'],
    ['2 day', '2 days'],
    ['500 milliseconds', '500 milliseconds'],
    ['500ms', '500 milliseconds'],
    ['1h 30min', '1 hour 30 minutes'],
    ['1.5 hours', '1.5 hours'],
    ['2 WEEKS', '2 weeks'],
    [100, 100],
    [0.5, 0.5],
    [0, undefined],
    ['0', undefined],
    ['0 seconds', undefined],
  ])('reads %j as %j', (input, expected) => {
    expect(readLookback(input)).toEqual({ ok: true, value: expected });
  });

  it.each<[unknown, string]>([
    ['5 months', 'unknown unit "months"'],
    ['-5 minutes', 'expected an interval such as "5 minutes"'],
    ['5 minutes ago', 'expected an interval'],
    ['minutes', 'expected an interval'],
    ['12', '"12" has no unit'],
    [-1, 'got -1'],
    [true, 'got true'],
    [['5 minutes'], 'got a list'],
  ])('refuses %j', (input, message) => {
    const read = readLookback(input);
    expect(read.ok).toBe(false);
    expect(read.ok ? '' : read.message).toContain(message);
  });
});

describe('Function: readStatementTimeout', () => {
  it.each<[unknown, number]>([
    [0, 0],
    [45000, 45000],
    ['45000', 45000],
    ['30s', 30_000],
    ['30 s', 30_000],
    ['5min', 300_000],
    ['2 minutes', 120_000],
    ['1.5s', 1_500],
    ['1 d', 86_400_000],
  ])('reads %j as %i ms', (input, ms) => {
    expect(readStatementTimeout(input)).toEqual({ ok: true, value: ms });
  });

  it.each<[unknown, string]>([
    ['30 fortnights', 'unknown unit "fortnights"'],
    ['30 days', 'expected at most 2147483647 ms'],
    ['later', 'got "later"'],
    [-1, 'got -1'],
    [false, 'got false'],
  ])('refuses %j', (input, message) => {
    const read = readStatementTimeout(input);
    expect(read.ok ? '' : read.message).toContain(message);
  });
});

describe('Function: readPort', () => {
  it.each<[unknown, number]>([
    [5432, 5432],
    ['5432', 5432],
    [' 6432 ', 6432],
    [1, 1],
    [65535, 65535],
  ])('reads %j as %i', (input, port) => {
    expect(readPort(input)).toEqual({ ok: true, value: port });
  });

  it.each([0, 65536, '54 32', '0x10', '', 5432.5, null])('refuses %j', (input) => {
    expect(readPort(input).ok).toBe(false);
  });
});

describe('Function: identifierProblem', () => {
  it.each(['orders', 'Orders', 'order items', 'we"ird', 'ünïcödé', 'x'.repeat(63), `${'é'.repeat(31)}a`, '日本語'.repeat(7)])('accepts %j', (name) => {
    expect(identifierProblem(name)).toBeUndefined();
  });

  it.each<[string, string]>([
    ['', 'expected a non-empty name'],
    ['a\0b', 'NUL'],
    ['x'.repeat(64), 'got 64 bytes'],
    ['é'.repeat(32), 'got 64 bytes'],
    ['日本語'.repeat(8), 'got 72 bytes'],
  ])('refuses %j', (name, message) => {
    expect(identifierProblem(name)).toContain(message);
  });
});

describe('Function: scheduleProblem', () => {
  it.each([
    'rate(1 minute)',
    'rate(15 minutes)',
    'rate(1 hour)',
    'rate(2 hours)',
    'rate(1 day)',
    'rate(7 days)',
    'cron(0 12 * * ? *)',
    'cron(0/15 8-17 ? * MON-FRI *)',
    'cron(0 0 L * ? 2026)',
    'cron(0 10 ? * 6#3 *)',
    'at(2026-06-03T10:00:00)',
    'at(2028-02-29T23:59:59)',
  ])('accepts %s', (expression) => {
    expect(scheduleProblem(expression)).toBeUndefined();
  });

  it.each<[string, string]>([
    ['rate(1 minutes)', 'rate(1 minute)'],
    ['rate(10 minute)', 'rate(10 minutes)'],
    ['rate(0 hours)', 'positive whole number'],
    ['rate(5  minutes)', 'positive whole number'],
    ['rate(1 week)', 'positive whole number'],
    ['rate(15 minutes', 'expected rate('],
    ['cron(0 12 * * ?)', 'with 6 fields, got 5'],
    ['cron()', 'with 6 fields, got 0'],
    ['cron(0 12 ? * ? *)', 'exactly one of day-of-month and day-of-week must be ?'],
    ['cron(0 12 1 * MON *)', 'exactly one of day-of-month and day-of-week must be ?'],
    ['cron(0 12 $ * ? *)', 'cron field day-of-month has unexpected characters'],
    ['at(2027-02-29T00:00:00)', 'is not a real date and time'],
    ['at(2026-06-03T24:00:00)', 'is not a real date and time'],
    ['at(2026-06-03)', 'expected at(yyyy-mm-ddThh:mm:ss)'],
    ['*/15 * * * *', 'expected rate(<n>'],
  ])('refuses %s', (expression, message) => {
    expect(scheduleProblem(expression)).toContain(message);
  });
});

describe('Function: timezoneProblem', () => {
  it.each(['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Asia/Kolkata'])('accepts %s', (zone) => {
    expect(timezoneProblem(zone)).toBeUndefined();
  });

  it.each(['Europe/Paris_Texas', 'Mars/Base', '', 'GMT+25'])('refuses %j', (zone) => {
    expect(timezoneProblem(zone)).toContain('expected an IANA time zone');
  });
});

describe('Function: describeValue', () => {
  it.each<[unknown, string]>([
    ['x', '"x"'],
    [42, '42'],
    [null, 'null'],
    [[], 'an empty list'],
    [[1], 'a list'],
    [{ a: 1 }, 'a mapping'],
    ['y'.repeat(100), `"${'y'.repeat(80)}..."`],
    ['postgres://etl:hunter2@db/shop', '"postgres://etl:***@db/shop"'],
    ['postgres://etl:p@ss/w:rd@db/shop', '"postgres://etl:***@db/shop"'],
    [`postgres://etl:${'p'.repeat(100)}@db/shop`, '"postgres://etl:***@db/shop"'],
  ])('shows %j as %s', (value, shown) => {
    expect(describeValue(value)).toBe(shown);
  });
});

describe('Function: redactSecrets', () => {
  it('masks URL passwords and password parameters anywhere in a text', () => {
    expect(redactSecrets('bad: postgres://a:b@h/db and host=h password=hunter2 x')).toBe('bad: postgres://a:***@h/db and host=h password=*** x');
    expect(redactSecrets('postgresql://h/db?user=a&password=hunter2&sslmode=require')).toBe('postgresql://h/db?user=a&password=***&sslmode=require');
  });
});

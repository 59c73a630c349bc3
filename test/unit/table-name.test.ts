import { describe, expect, it } from 'vitest';
import {
  exactPattern,
  formatTableName,
  isTablePattern,
  likeOf,
  matchesTablePattern,
  parseTableName,
  parseTablePattern,
  type TablePattern,
} from '../../lib/config/table-name.ts';
import type { TableRef } from '../../lib/config/types.ts';

function pattern(text: string): TablePattern {
  const parsed = parseTablePattern(text);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed;
}

const HOSTILE_NAMES: TableRef[] = [
  { schema: 'sales', name: 'orders' },
  { schema: 'public', name: 'orders' },
  { schema: 'Sales', name: 'OrderItems' },
  { schema: 'sales', name: 'Odd.Name' },
  { schema: 'a.b', name: 'c.d.e' },
  { schema: 'sales', name: 'say "hi"' },
  { schema: '"', name: '""' },
  { schema: 'sales', name: 'with space' },
  { schema: ' lead', name: 'trail ' },
  { schema: 'tab\there', name: 'new\nline' },
  { schema: 'sales', name: 'star*and?mark' },
  { schema: 'sales', name: '100%_done\\' },
  { schema: 'ventes', name: 'commandes_été' },
  { schema: 'данные', name: '表' },
  { schema: 'emoji', name: '🚢 ferry' },
  { schema: '$x', name: '9lives' },
  { schema: 'x$', name: '_' },
  { schema: 'sales', name: "it's; DROP TABLE x;--" },
];

describe('Function: parseTableName', () => {
  it.each<[string, TableRef]>([
    ['sales.orders', { schema: 'sales', name: 'orders' }],
    ['orders', { schema: 'public', name: 'orders' }],
    ['Sales.Orders', { schema: 'Sales', name: 'Orders' }],
    ['sales."Odd.Name"', { schema: 'sales', name: 'Odd.Name' }],
    ['"Odd.Name"', { schema: 'public', name: 'Odd.Name' }],
    ['"a.b"."c.d"', { schema: 'a.b', name: 'c.d' }],
    ['sales."say ""hi"""', { schema: 'sales', name: 'say "hi"' }],
    ['sales."with space"', { schema: 'sales', name: 'with space' }],
    ['sales."*"', { schema: 'sales', name: '*' }],
    ['sales.order-items', { schema: 'sales', name: 'order-items' }],
    ['données.été', { schema: 'données', name: 'été' }],
    ['sales.pre"fix.x"', { schema: 'sales', name: 'prefix.x' }],
  ])('reads %s', (text, ref) => {
    expect(parseTableName(text)).toEqual(ref);
  });

  it.each<[string, string]>([
    ['sales.orders.x', '"sales.orders.x" has 2 unquoted dots; write schema.name, with a part in double quotes if it holds a dot'],
    ['a.b.c.d', 'has 3 unquoted dots'],
    ['', '"" is empty'],
    ['sales.', '"sales." has an empty part'],
    ['.orders', 'has an empty part'],
    ['sales.""', 'has an empty part'],
    ['""', 'has an empty name'],
    ['sales."orders', 'has a double quote that is never closed; inside a quoted part write "" for a double quote'],
    ['sales."a""', 'never closed'],
    ['sales. orders', 'has a space outside double quotes; put a part that holds spaces in double quotes'],
    [' sales.orders', 'has a space outside double quotes'],
    ['sales.with space', 'has a space outside double quotes'],
    ['sales.a\0b', 'NUL character'],
  ])('refuses %j', (text, problem) => {
    const parsed = parseTableName(text);
    expect(parsed).toHaveProperty('problem');
    expect('problem' in parsed ? parsed.problem : '').toContain(problem);
  });
});

describe('Function: formatTableName', () => {
  it.each<[TableRef, string]>([
    [{ schema: 'sales', name: 'orders' }, 'sales.orders'],
    [{ schema: 'public', name: 'orders' }, 'public.orders'],
    [{ schema: 'Sales', name: 'Orders' }, 'Sales.Orders'],
    [{ schema: 'sales', name: 'Odd.Name' }, 'sales."Odd.Name"'],
    [{ schema: 'sales', name: 'say "hi"' }, 'sales."say ""hi"""'],
    [{ schema: 'sales', name: '9lives' }, 'sales."9lives"'],
    [{ schema: 'sales', name: 'x$1' }, 'sales.x$1'],
    [{ schema: 'sales', name: 'tmp*' }, 'sales."tmp*"'],
    [{ schema: 'sales', name: 'été' }, 'sales."été"'],
  ])('writes %j as %s', (ref, text) => {
    expect(formatTableName(ref)).toBe(text);
  });

  it.each(HOSTILE_NAMES)('round-trips %j through parseTableName and parseTablePattern', (ref) => {
    const text = formatTableName(ref);
    expect(parseTableName(text)).toEqual(ref);
    expect(isTablePattern(text)).toBe(false);
    const asPattern = pattern(text);
    expect(asPattern.schema).toEqual({ exact: ref.schema });
    expect(asPattern.name).toEqual({ exact: ref.name });
    expect(matchesTablePattern(asPattern, ref)).toBe(true);
  });

  it('round-trips generated names of every character class a name may hold', () => {
    const alphabet = ['a', 'Z', '_', '$', '0', '.', '"', ' ', '*', '?', '%', '\\', "'", '-', 'é', '表', '🚢', '\t'];
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 500; i += 1) {
      const part = (): string => Array.from({ length: 1 + next(8) }, () => alphabet[next(alphabet.length)]).join('');
      const ref = { schema: part(), name: part() };
      expect(parseTableName(formatTableName(ref))).toEqual(ref);
      expect(matchesTablePattern(exactPattern(ref), ref)).toBe(true);
    }
  });
});

describe('Function: parseTablePattern', () => {
  it('reads * as any run of characters and ? as exactly one, in the name and the schema', () => {
    const p = pattern('sales.tmp_*');
    expect(p.text).toBe('sales.tmp_*');
    expect(p.schema).toEqual({ exact: 'sales' });
    expect(matchesTablePattern(p, { schema: 'sales', name: 'tmp_' })).toBe(true);
    expect(matchesTablePattern(p, { schema: 'sales', name: 'tmp_orders' })).toBe(true);
    expect(matchesTablePattern(p, { schema: 'sales', name: 'tmpXorders' })).toBe(false);
    expect(matchesTablePattern(p, { schema: 'Sales', name: 'tmp_orders' })).toBe(false);
    expect(matchesTablePattern(p, { schema: 'sales', name: 'TMP_orders' })).toBe(false);

    const q = pattern('s?les.o?');
    expect(matchesTablePattern(q, { schema: 'sales', name: 'ox' })).toBe(true);
    expect(matchesTablePattern(q, { schema: 'sales', name: 'o' })).toBe(false);
    expect(matchesTablePattern(q, { schema: 'sales', name: 'oxx' })).toBe(false);
    expect(matchesTablePattern(q, { schema: 'soles', name: 'o表' })).toBe(true);
    expect(matchesTablePattern(q, { schema: 'sales', name: 'o🚢' })).toBe(true);

    const all = pattern('*.*');
    expect(matchesTablePattern(all, { schema: 'x', name: 'multi\nline' })).toBe(true);
    expect(matchesTablePattern(pattern('*'), { schema: 'public', name: 'anything' })).toBe(true);
    expect(matchesTablePattern(pattern('*'), { schema: 'sales', name: 'anything' })).toBe(false);
  });

  it.each<[string, string, string]>([
    ['sales."a*"', 'sales', 'a*'],
    ['sales."a?"', 'sales', 'a?'],
    ['"s.*".t', 's.*', 't'],
    ['sales."tmp*.x"', 'sales', 'tmp*.x'],
  ])('%s is exact: wildcards and dots inside double quotes are literal', (text, schema, name) => {
    expect(isTablePattern(text)).toBe(false);
    expect(pattern(text)).toEqual({ text, schema: { exact: schema }, name: { exact: name } });
  });

  it('mixes quoted and unquoted runs in one part', () => {
    const p = pattern('sales."Odd.Name"_*');
    expect(isTablePattern('sales."Odd.Name"_*')).toBe(true);
    expect(matchesTablePattern(p, { schema: 'sales', name: 'Odd.Name_2024' })).toBe(true);
    expect(matchesTablePattern(p, { schema: 'sales', name: 'OddXName_2024' })).toBe(false);
    expect(likeOf(p.name)).toBe('Odd.Name\\_%');
    const star = pattern('sales."*"*');
    expect(matchesTablePattern(star, { schema: 'sales', name: '*x' })).toBe(true);
    expect(matchesTablePattern(star, { schema: 'sales', name: 'x*' })).toBe(false);
  });

  it('escapes \\, % and _ in the LIKE form and takes regex characters literally', () => {
    const p = pattern('"a%b_c\\d".[x](y)+^$|{2}"."*?');
    expect(p.schema).toEqual({ exact: 'a%b_c\\d' });
    expect(likeOf(p.schema)).toBe('a\\%b\\_c\\\\d');
    expect('like' in p.name ? p.name.like : '').toBe('[x](y)+^$|{2}.%_');
    expect(matchesTablePattern(p, { schema: 'a%b_c\\d', name: '[x](y)+^$|{2}.zz' })).toBe(true);
    expect(matchesTablePattern(p, { schema: 'a%b_c\\d', name: 'x(y)+^$|{2}.zz' })).toBe(false);
    expect(matchesTablePattern(p, { schema: 'a%b_c\\d', name: '[x](y)+^$|{2}Xzz' })).toBe(false);
    expect(matchesTablePattern(p, { schema: 'aXbYc\\d', name: '[x](y)+^$|{2}.zz' })).toBe(false);

    const q = pattern('sales.100%_*');
    expect('like' in q.name ? q.name.like : '').toBe('100\\%\\_%');
    expect(matchesTablePattern(q, { schema: 'sales', name: '100%_done' })).toBe(true);
    expect(matchesTablePattern(q, { schema: 'sales', name: '100xydone' })).toBe(false);
  });

  it('gives the same problems as parseTableName', () => {
    expect(parseTablePattern('sales.*.x')).toEqual({
      problem: '"sales.*.x" has 2 unquoted dots; write schema.name, with a part in double quotes if it holds a dot',
    });
    expect(parseTablePattern('sales."tmp*')).toHaveProperty('problem');
    expect(parseTablePattern('sales.')).toHaveProperty('problem');
    expect(parseTablePattern('sales.tmp *')).toHaveProperty('problem');
  });
});

describe('Function: isTablePattern', () => {
  it.each<[string, boolean]>([
    ['sales.*', true],
    ['sales.tmp_?', true],
    ['*.orders', true],
    ['sales.orders', false],
    ['sales."*"', false],
    ['sales."a""*"', false],
    ['sales."a""b"*', true],
    ['"x?".y', false],
    ['"x".y*', true],
  ])('%s: %s', (text, expected) => {
    expect(isTablePattern(text)).toBe(expected);
  });
});

describe('Function: exactPattern', () => {
  it('matches exactly its table, whatever the name holds', () => {
    const ref = { schema: 'sales', name: 'tmp_*' };
    const p = exactPattern(ref);
    expect(p).toEqual({ text: 'sales."tmp_*"', schema: { exact: 'sales' }, name: { exact: 'tmp_*' } });
    expect(matchesTablePattern(p, ref)).toBe(true);
    expect(matchesTablePattern(p, { schema: 'sales', name: 'tmp_x' })).toBe(false);
    expect(likeOf(p.name)).toBe('tmp\\_*');
  });
});

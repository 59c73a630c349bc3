import { describe, expect, it } from 'vitest';
import { collectEvery } from '../../lib/cli/memory.ts';

describe('Function: collectEvery', () => {
  it('collects once per `every` bytes moved, whatever the chunk sizes', () => {
    let collections = 0;
    const listener = collectEvery(100, () => (collections += 1));
    for (let i = 0; i < 9; i += 1) listener(10);
    expect(collections).toBe(0);
    listener(10);
    expect(collections).toBe(1);
    listener(250);
    expect(collections).toBe(2);
    listener(40);
    expect(collections).toBe(2);
    listener(10);
    expect(collections).toBe(3);
  });
});

import { describe, expect, it } from 'vitest';
import { MAX_BUNDLE_BYTES } from '../../cdk/bundling.ts';
import { measureBundles } from '../../scripts/bundle-size.ts';

describe('Script: bundle-size', () => {
  it('bundles every task Lambda as the construct does, each within 1.5 MB, with a source map', async () => {
    const sizes = await measureBundles();
    expect(sizes.map((s) => s.task)).toEqual(['plan', 'extractChunk', 'apply', 'finalize', 'recordFailure', 'cleanup', 'tables', 'summarize']);
    for (const size of sizes) {
      expect(size.bytes, size.entry).toBeGreaterThan(100_000);
      expect(size.bytes, size.entry).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
      expect(size.mapBytes, size.entry).toBeGreaterThan(0);
    }
  });
});

/**
 * Memory tuning of the `pgferry` process (bin/pgferry.js calls it before the command runs; tests and the
 * Lambda handlers do not). A run moves every row through short-lived COPY buffers that live outside the
 * JavaScript heap: V8 frees them only when it collects their small wrappers, and a wrapper that was still
 * in flight at two minor collections waits for the next major one, which V8 starts only once ~64 MB of
 * such memory piled up. On the bench (see docs/performance.md), keeping the young generation small and
 * also starting a major collection every {@link COLLECT_EVERY_BYTES} moved lowers the peak RSS markedly
 * at the same wall time; collecting every 32 MB rather than 64 MB keeps the peak with several chunks in
 * flight close to that with one, since several streams leave more buffers between two collections. Its
 * cost is a little more CPU time of the process, off the critical path (the servers).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { onCopyProgress } from '../db/index.ts';

/** Bytes moved by COPY between two major collections. */
export const COLLECT_EVERY_BYTES = 32 * 1024 * 1024;

type Collect = (options: { type: 'major' | 'minor'; execution: 'sync' | 'async' }) => void;

/**
 * Keeps V8's young generation at its initial size instead of letting it grow to 3 x 16 MB, and starts an
 * incremental major collection every {@link COLLECT_EVERY_BYTES} bytes that COPY streams move. Call once,
 * early: the growth factor applies from the next resize of the young generation.
 */
export function tuneMemoryForStreaming(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString('--expose-gc');
  let collect: Collect | undefined;
  try {
    // --expose-gc set at run time reaches new contexts only; a Node without it keeps V8's own schedule.
    collect = vm.runInNewContext('gc') as Collect;
  } catch {
    return;
  }
  if (typeof collect === 'function') onCopyProgress(collectEvery(COLLECT_EVERY_BYTES, () => collect({ type: 'major', execution: 'async' })));
}

/** A COPY progress listener that calls `collect` each time another `every` bytes have been moved. */
export function collectEvery(every: number, collect: () => void): (bytes: number) => void {
  let moved = 0;
  return (bytes) => {
    moved += bytes;
    if (moved < every) return;
    moved %= every;
    collect();
  };
}

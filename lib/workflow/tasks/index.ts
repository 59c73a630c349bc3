/** The task functions by key: what each Lambda wraps and the local runner calls in-process. */
import type { TaskKey } from '../definition.ts';
import type { TaskDeps } from '../types.ts';
import { applyRun } from './apply.ts';
import { extractChunk } from './extract-chunk.ts';
import { finalizeRun } from './finalize.ts';
import { planRun } from './plan.ts';
import { recordFailure } from './record-failure.ts';

/** A task function: plain input and dependencies in, plain output out. */
export type TaskFunction = (input: never, deps: TaskDeps) => Promise<unknown>;

/** Every task function, keyed like the definition's TaskStates. */
export const TASKS: Readonly<Record<TaskKey, TaskFunction>> = {
  plan: planRun as TaskFunction,
  extractChunk: extractChunk as TaskFunction,
  apply: applyRun as TaskFunction,
  finalize: finalizeRun as TaskFunction,
  recordFailure: recordFailure as TaskFunction,
};

export { applyRun, extractChunk, finalizeRun, planRun, recordFailure };

import type { TaskLogger } from '../../lib/log.ts';

/** A task logger that keeps every line (message and fields as JSON), to assert on what a run said. */
export function recorder(): TaskLogger & { lines: string[] } {
  const lines: string[] = [];
  const add = (message: string, fields?: Record<string, unknown>): void => {
    lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  };
  return { lines, info: add, warn: add, error: add };
}

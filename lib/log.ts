/** The logger every layer writes to; here at the bottom so that source and sink need nothing from workflow. */

/** Structured log sink; Powertools' Logger and the local runner's stderr logger both fit. */
export interface TaskLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

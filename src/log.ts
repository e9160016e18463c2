/**
 * Structured log lines for people and for log collectors. The run loop logs through a {@link Logger};
 * the CLI decides the format (human lines on a terminal, JSON lines otherwise). Fields never hold
 * credentials or connection strings.
 */

/** Fields a log line may carry; JSON lines print them as keys. */
export interface LogFields {
  readonly chain_id?: string
  readonly dataset?: string
  readonly partition?: string
  readonly rows?: number
  readonly bytes?: number
  readonly seconds?: number
  readonly [key: string]: unknown
}

/** Where the run loop reports progress. */
export interface Logger {
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
}

/** A logger that writes the bare message of every line to `write` (tests, simple callers). */
export function lineLogger(write: (line: string) => void): Logger {
  return { info: write, warn: write, error: write }
}

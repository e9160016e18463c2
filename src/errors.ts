/**
 * The one error class of parquet_compact. Its `code` decides the process exit code
 * (see {@link exitCodeOf}); the table is documented in the README.
 */

/** Why a run stopped. Each code maps to one exit code. */
export type ErrorCode =
  | "RETRYABLE" // 1: a transient failure (network, 5xx, conflict retries exhausted)
  | "BAD_INPUT" // 2: bad flags, config, identifiers or unsupported column types
  | "NOT_FINAL" // 3: the range is above tip - finality_threshold
  | "INTEGRITY" // 4: incomplete hot range, verification mismatch, overlap with another partition
  | "LOCKED" // 5: another run holds the lock for this chain and dataset

/** Exit code per error code; 0 is success, including "nothing to do". */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  RETRYABLE: 1,
  BAD_INPUT: 2,
  NOT_FINAL: 3,
  INTEGRITY: 4,
  LOCKED: 5,
}

/** An error with a code that maps to an exit code, keeping its cause. */
export class CompactError extends Error {
  override readonly name = "CompactError"
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The exit code for any thrown value: a CompactError's own, else 1 (worth retrying). */
export function exitCodeOf(error: unknown): number {
  return error instanceof CompactError ? EXIT_CODES[error.code] : 1
}

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
  | "INTERRUPTED" // 143: stopped by a signal before finishing; nothing half-committed, rerun to go on

/** Exit code per error code; 0 is success, including "nothing to do". */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  RETRYABLE: 1,
  BAD_INPUT: 2,
  NOT_FINAL: 3,
  INTEGRITY: 4,
  LOCKED: 5,
  INTERRUPTED: 143,
}

/** An error with a code that maps to an exit code, keeping its cause. */
export class CompactError extends Error {
  override readonly name = "CompactError"
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** Postgres SQLSTATEs that retrying cannot fix: credentials, missing database or table, permissions, overflow. */
const PG_BAD_INPUT = new Set(["28000", "28P01", "3D000", "42501", "42P01", "42703", "22003"])
/** S3 error names that retrying cannot fix: credentials, permissions, missing bucket. */
const S3_BAD_INPUT = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "NoSuchBucket",
  "InvalidBucketName",
])

/**
 * The exit code for any thrown value: a CompactError's own; a Postgres or S3 error that no retry can
 * fix is 2 (a foreign-key violation on delete is 4); anything else is 1 (worth retrying).
 */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CompactError) return EXIT_CODES[error.code]
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown }
  if (typeof code === "string" && PG_BAD_INPUT.has(code)) return EXIT_CODES.BAD_INPUT
  if (code === "23503") return EXIT_CODES.INTEGRITY
  if (typeof name === "string" && S3_BAD_INPUT.has(name)) return EXIT_CODES.BAD_INPUT
  return EXIT_CODES.RETRYABLE
}

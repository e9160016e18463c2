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
 * Postgres failures that a retry can fix: the connection was refused, reset, closed or timed out,
 * or the server ended the session (57P01 terminated by an administrator, 57P02/57P03 shutting down
 * or starting, class 08 connection exceptions). postgres.js reports some of these as a TypeError
 * from its internals when a closed socket is used (`null is not an object (evaluating 'socket.write')`).
 */
const PG_CONNECTION_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
])

/** Whether an error means the Postgres connection was lost or could not be opened (worth retrying). */
export function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  if (typeof code === "string" && PG_CONNECTION_CODES.has(code)) return true
  return error instanceof TypeError &&
    /\bnull\b.*\b(write|resume|pause|end|socket)\b|of null/.test(error.message)
}

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

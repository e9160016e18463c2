/**
 * What an S3 failure means for the run: a CompactError whose code says whether a retry can fix it
 * (BAD_INPUT: no bucket, access denied, wrong keys, no credentials) or not (RETRYABLE: throttling,
 * 5xx, timeouts, resets), with one line that names the bucket. Never prints credentials: the SDK's
 * messages do not hold them, and neither do ours.
 */
import { CompactError } from "../errors.ts"

/** The sources of the SDK's default credential chain, in the order it tries them. */
export const CREDENTIAL_SOURCES = "the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), " +
  "AWS_PROFILE in the shared files (~/.aws/credentials, ~/.aws/config), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), " +
  "container credentials (ECS task role) and instance metadata (EC2)"

/** The HTTP status of an SDK error, if it got that far. */
export function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode
}

function nameOf(error: unknown): string {
  return String((error as { name?: unknown })?.name ?? "")
}

/** Whether an error means the bucket answered "no such key" (not "no such bucket"). */
export function isNoSuchKey(error: unknown): boolean {
  const name = nameOf(error)
  return name === "NoSuchKey" || name === "NotFound" || (httpStatus(error) === 404 && name !== "NoSuchBucket")
}

/** Whether the SDK found no credentials in any source. */
function isNoCredentials(error: unknown): boolean {
  return nameOf(error) === "CredentialsProviderError" ||
    /Could not load credentials from any providers/i.test(String((error as Error)?.message))
}

function isTimeout(error: unknown): boolean {
  const name = nameOf(error)
  const code = (error as { code?: unknown })?.code
  return name === "TimeoutError" || name === "AbortError" || name === "RequestTimeout" ||
    code === "ETIMEDOUT" || name === "BodyTimeout"
}

/**
 * Turns an SDK error of `action` (e.g. `read "k"`) on `bucket` into a CompactError; leaves
 * CompactErrors and anything that is not an Error as they are.
 */
export function s3Failure(error: unknown, action: string, bucket: string, where: string): unknown {
  if (error instanceof CompactError || !(error instanceof Error)) return error
  const name = nameOf(error)
  const status = httpStatus(error)
  const bad = (message: string) => new CompactError("BAD_INPUT", message, { cause: error })
  if (isNoCredentials(error)) {
    return bad(
      `Cannot reach bucket "${bucket}": no AWS credentials found; tried ${CREDENTIAL_SOURCES}; set one of them`,
    )
  }
  if (name === "NoSuchBucket") {
    return bad(`Cannot use bucket "${bucket}": it does not exist${where}; create it or fix --dest`)
  }
  if (name === "InvalidBucketName") {
    return bad(`Cannot use bucket "${bucket}": the server refuses the name${where}; fix --dest`)
  }
  if (name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed" || status === 301) {
    return bad(`Cannot use bucket "${bucket}": it is in another region (${name || status}); set --s3-region`)
  }
  if (name === "SignatureDoesNotMatch" || name === "InvalidAccessKeyId") {
    return bad(
      `Cannot use bucket "${bucket}": the S3 secret key or access key id is wrong (${name}); ` +
        "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the profile",
    )
  }
  if (name === "AccessDenied" || name === "AllAccessDisabled" || status === 403) {
    return bad(
      `Cannot ${action} in bucket "${bucket}": access denied; grant these credentials ` +
        "s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload on it",
    )
  }
  if (isTimeout(error)) {
    return new CompactError(
      "RETRYABLE",
      `Cannot ${action} in bucket "${bucket}": the server did not answer in time${where}; rerun the range`,
      { cause: error },
    )
  }
  const what = status ? `${name || "error"} (HTTP ${status})` : `${name || "error"}: ${error.message}`
  return new CompactError(
    "RETRYABLE",
    `Cannot ${action} in bucket "${bucket}": ${what}${where}; it is worth retrying`,
    { cause: error },
  )
}

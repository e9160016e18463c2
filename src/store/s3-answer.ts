/**
 * What an S3 answer that is not a success means to the signed-fetch path (s3-direct.ts): an error
 * shaped like the SDK's service errors (`name` the S3 error code, `$metadata.httpStatusCode` the
 * status), so s3Failure() reads both paths alike, and whether the SDK's standard mode would retry it.
 */
import { BodyFault } from "./body.ts"

/** A failed answer, shaped like the SDK's service errors. */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number }
  constructor(status: number, code: string, message: string) {
    super(message || `HTTP ${status}`)
    this.name = code || "UnknownError"
    this.$metadata = { httpStatusCode: status }
  }
}

/** The error an answer's status and S3 XML error body (`<Code>`, `<Message>`) stand for. */
export function answerError(status: number, body: Uint8Array): S3ResponseError {
  const text = new TextDecoder().decode(body)
  const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1] ?? ""
  return new S3ResponseError(status, tag("Code") || statusName(status), tag("Message"))
}

/** Whether the server refused the request's time: the client's clock is off. */
export function isClockSkew(error: unknown): boolean {
  return error instanceof S3ResponseError && CLOCK_SKEW.has(error.name)
}

/** Whether and how the SDK's standard mode retries a failure. */
export function retryKind(error: unknown): "throttled" | "transient" | undefined {
  if (error instanceof S3ResponseError) {
    const status = error.$metadata.httpStatusCode
    if (status === 429 || THROTTLING.has(error.name)) return "throttled"
    if (CLOCK_SKEW.has(error.name)) return "transient"
    if (status >= 500 || TRANSIENT.has(error.name)) return "transient"
    return undefined
  }
  // a fetch that failed (refused, reset), a timeout or a body that broke off
  const name = (error as Error)?.name
  if (error instanceof BodyFault || name === "TimeoutError" || name === "NetworkError") {
    return "transient"
  }
  return undefined
}

const THROTTLING = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "RequestThrottled",
])
const CLOCK_SKEW = new Set(["RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"])
const TRANSIENT = new Set(["RequestTimeout", "RequestTimeoutException", "InternalError"])

/** The SDK's names for answers without an error body (a HEAD-like 404, a bare 5xx). */
function statusName(status: number): string {
  return status === 404 ? "NotFound" : status === 412 ? "PreconditionFailed" : `Http${status}`
}

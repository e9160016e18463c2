/**
 * The AWS SDK client behind S3Store, with every wait bounded: a connection timeout, a timeout to the
 * response headers and an idle timeout that also covers a streaming body. Retries are the SDK's
 * standard mode (throttling, 5xx, resets and timeouts, with exponential backoff). Also the bucket
 * check S3Store makes first, and the known payload hash a content-addressed PUT hands to SigV4.
 */
import { ListObjectsV2Command, type PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import { httpStatus, s3Failure } from "./s3-errors.ts"

/** How to reach the bucket; anything left out comes from the SDK's defaults and environment. */
export interface S3Options {
  readonly bucket: string
  readonly endpoint?: string
  readonly region?: string
  readonly forcePathStyle?: boolean
  /** Tries per request, first included (default 6). */
  readonly maxAttempts?: number
  readonly credentials?: { accessKeyId: string; secretAccessKey: string }
  /** Bodies larger than this go multipart (bytes, default 64 MiB). */
  readonly multipartThreshold?: number
  /** Size of each part (bytes, default the smaller of 16 MiB and the threshold; AWS wants ≥ 5 MiB). */
  readonly partSize?: number
  /** Parts uploaded at once (default 4). */
  readonly partConcurrency?: number
  /** Milliseconds to open a connection (default 5 s). */
  readonly connectionTimeout?: number
  /** Milliseconds from sending a request to its response headers, upload included (default 120 s). */
  readonly requestTimeout?: number
  /** Milliseconds a connection may stay silent, also while a body streams (default 30 s). */
  readonly idleTimeout?: number
  /**
   * Send the once-per-file PUT and read-back as signed fetches past the SDK's middleware (default
   * true; see s3-direct.ts).
   */
  readonly directRequests?: boolean
  /** Reads of a GET whose body breaks off, first included (default 4). */
  readonly bodyAttempts?: number
}

/** Milliseconds a connection may stay silent by default. */
export const IDLE_TIMEOUT_MS = 30_000

/** Milliseconds from sending a request to its response headers by default. */
export const REQUEST_TIMEOUT_MS = 120_000

/** A client for the options; credentials not given come from the SDK's default chain. */
export function s3Client(options: S3Options): S3Client {
  return new S3Client({
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    forcePathStyle: options.forcePathStyle ?? false,
    maxAttempts: options.maxAttempts ?? 6,
    retryMode: "standard",
    requestHandler: new NodeHttpHandler({
      connectionTimeout: options.connectionTimeout ?? 5_000,
      requestTimeout: options.requestTimeout ?? REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true, // else it only logs a warning and waits on
      socketTimeout: options.idleTimeout ?? IDLE_TIMEOUT_MS,
    }),
    // the default CRC checksums break on non-AWS servers; we send Content-MD5 instead
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  })
}

/**
 * Hands a body's known sha256 (lowercase hex) to SigV4 as `x-amz-content-sha256`. The signer then
 * signs it instead of hashing the body once more, and the server refuses the PUT (400
 * XAmzContentSHA256Mismatch, nothing stored) unless the bytes it received hash to it: the write is
 * verified end to end against the hash the object is named by, with no Content-MD5 to compute.
 */
export function presetPayloadHash(command: PutObjectCommand, sha256: string): PutObjectCommand {
  checkSha256(sha256)
  command.middlewareStack.add((next) => (args) => {
    const headers = (args.request as { headers?: Record<string, string> }).headers
    if (headers) headers["x-amz-content-sha256"] = sha256
    return next(args)
  }, { step: "build", name: "presetPayloadHash" })
  return command
}

/** Throws unless `sha256` is what `x-amz-content-sha256` takes: 64 lowercase hex digits. */
export function checkSha256(sha256: string): void {
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new Error(`Cannot send "${sha256}" as a sha256: not 64 hex digits`)
  }
}

/**
 * Lists one key: unlike a HEAD (no body), a LIST error names its cause, so a missing bucket, a
 * wrong key and missing credentials are told apart before anything else runs. It lists under the
 * folder of the first key used (`scope`), so a policy that grants s3:ListBucket only under the
 * destination's prefix allows it.
 */
export async function checkBucket(
  client: S3Client,
  bucket: string,
  where: string,
  scope: string,
): Promise<void> {
  const Prefix = scope.slice(0, scope.lastIndexOf("/") + 1)
  try {
    await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1, ...(Prefix ? { Prefix } : {}) }))
  } catch (error) {
    if (httpStatus(error) === 404) Object.assign(error as Error, { name: "NoSuchBucket" })
    throw s3Failure(error, "list objects", bucket, where)
  }
}

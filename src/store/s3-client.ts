/**
 * The AWS SDK client behind S3Store, with every wait bounded: a connection timeout, a timeout to the
 * response headers and an idle timeout that also covers a streaming body. Retries are the SDK's
 * standard mode (throttling, 5xx, resets and timeouts, with exponential backoff).
 */
import { S3Client } from "@aws-sdk/client-s3"
import { NodeHttpHandler } from "@smithy/node-http-handler"

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
  /** Reads of a GET whose body breaks off, first included (default 4). */
  readonly bodyAttempts?: number
}

/** Milliseconds a connection may stay silent by default. */
export const IDLE_TIMEOUT_MS = 30_000

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
      requestTimeout: options.requestTimeout ?? 120_000,
      throwOnRequestTimeout: true, // else it only logs a warning and waits on
      socketTimeout: options.idleTimeout ?? IDLE_TIMEOUT_MS,
    }),
    // the default CRC checksums break on non-AWS servers; we send Content-MD5 instead
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  })
}

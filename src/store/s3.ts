/**
 * S3 as an object store: the only file that imports the AWS SDK. Credentials come from the
 * SDK's default chain (environment, ECS task role, profiles); they are never printed.
 * Every write carries Content-MD5, which the server verifies; large bodies go multipart.
 * The SDK retries throttling and 5xx answers with exponential backoff (`maxAttempts`).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3"
import { createHash } from "node:crypto"
import { bareEtag, ConditionFailed, type ObjectInfo, type ObjectStore, type PutOptions } from "./store.ts"

/** How to reach the bucket; anything left out comes from the SDK's defaults and environment. */
export interface S3Options {
  readonly bucket: string
  readonly endpoint?: string
  readonly region?: string
  readonly forcePathStyle?: boolean
  readonly maxAttempts?: number
  readonly credentials?: { accessKeyId: string; secretAccessKey: string }
  /** Bodies larger than this go multipart, in parts of this size (bytes). */
  readonly multipartThreshold?: number
}

const MIB = 1024 * 1024
const md5Base64 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64")

function status(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string })?.name
  return status(error) === 404 || name === "NoSuchKey" || name === "NotFound"
}

/** An {@link ObjectStore} over one S3 bucket. */
export class S3Store implements ObjectStore {
  readonly description: string
  readonly #client: S3Client
  readonly #bucket: string
  readonly #partSize: number

  constructor(options: S3Options) {
    this.#bucket = options.bucket
    this.#partSize = options.multipartThreshold ?? 64 * MIB
    this.description = `s3://${options.bucket}` + (options.endpoint ? ` at ${options.endpoint}` : "")
    this.#client = new S3Client({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
      forcePathStyle: options.forcePathStyle ?? false,
      maxAttempts: options.maxAttempts ?? 6,
      retryMode: "standard",
      // the default CRC checksums break on non-AWS servers; we send Content-MD5 instead
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    })
  }

  async get(key: string) {
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }))
      const bytes = await out.Body!.transformToByteArray()
      return { bytes, etag: bareEtag(out.ETag ?? "") }
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw error
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const out = await this.#client.send(
      new GetObjectCommand({ Bucket: this.#bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
    )
    return await out.Body!.transformToByteArray()
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }))
      return { size: out.ContentLength ?? 0, etag: bareEtag(out.ETag ?? "") }
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw error
    }
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const conditions = {
      // radosgw rejects a quoted If-Match ETag with a false 412; AWS accepts both forms
      ...(options.ifMatch !== undefined ? { IfMatch: bareEtag(options.ifMatch) } : {}),
      ...(options.ifNoneMatch ? { IfNoneMatch: options.ifNoneMatch } : {}),
    }
    try {
      if (body.length > this.#partSize) return await this.#putMultipart(key, body, options)
      const out = await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Body: body,
          ContentMD5: md5Base64(body),
          ContentType: options.contentType ?? "application/octet-stream",
          ...conditions,
        }),
      )
      return { etag: bareEtag(out.ETag ?? "") }
    } catch (error) {
      const code = status(error)
      if (code === 412 || code === 409) {
        throw new ConditionFailed(`Cannot write "${key}": it changed`, { cause: error })
      }
      throw error
    }
  }

  async #putMultipart(key: string, body: Uint8Array, options: PutOptions): Promise<{ etag: string }> {
    if (options.ifMatch !== undefined || options.ifNoneMatch) {
      throw new Error(
        `Cannot write "${key}" conditionally in parts: it is larger than ${this.#partSize} bytes`,
      )
    }
    const { UploadId } = await this.#client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.#bucket,
        Key: key,
        ContentType: options.contentType ?? "application/octet-stream",
      }),
    )
    try {
      const parts: { ETag: string; PartNumber: number }[] = []
      for (let offset = 0, n = 1; offset < body.length; offset += this.#partSize, n++) {
        const chunk = body.subarray(offset, offset + this.#partSize)
        const out = await this.#client.send(
          new UploadPartCommand({
            Bucket: this.#bucket,
            Key: key,
            UploadId,
            PartNumber: n,
            Body: chunk,
            ContentMD5: md5Base64(chunk),
          }),
        )
        parts.push({ ETag: out.ETag ?? "", PartNumber: n })
      }
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      )
    } catch (error) {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId }))
        .catch(() => undefined)
      throw error
    }
    // radosgw returns an empty ETag from CompleteMultipartUpload; HEAD has it
    return { etag: (await this.head(key))?.etag ?? "" }
  }

  async delete(key: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }))
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = []
    let token: string | undefined
    do {
      const out = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      )
      for (const item of out.Contents ?? []) if (item.Key) keys.push(item.Key)
      token = out.IsTruncated ? out.NextContinuationToken : undefined
    } while (token)
    return keys.sort()
  }

  /** Closes the HTTP connections. */
  close(): void {
    this.#client.destroy()
  }
}

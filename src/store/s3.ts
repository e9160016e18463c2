/**
 * S3 as an object store. Credentials come from the SDK's default chain (environment, profiles, ECS
 * task role, instance metadata); they are never printed. The server verifies every write: a
 * content-addressed file by its sha256, the signed payload hash; anything else, and every part of a
 * large body, by Content-MD5. A new file's PUT and the read-back of a file's end are signed fetches
 * (s3-direct.ts); every other request goes through the SDK (s3-client.ts, s3-multipart.ts,
 * s3-stream.ts). Both retry throttling, 5xx answers, resets and timeouts with backoff (`maxAttempts`)
 * and bound every wait, so a stalled server cannot hang a run; a GET body that breaks off is read
 * again a bounded number of times, then fails RETRYABLE. Every failure leaves as a CompactError (see
 * s3-errors.ts), apart from ConditionFailed.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3"
import { CompactError } from "../errors.ts"
import { readWhole } from "./body.ts"
import { checkBucket, IDLE_TIMEOUT_MS, presetPayloadHash, s3Client, type S3Options } from "./s3-client.ts"
import { httpStatus, isNoSuchKey, s3Failure } from "./s3-errors.ts"
import { abortUploads, md5Base64, putMultipart } from "./s3-multipart.ts"
import { DirectS3 } from "./s3-direct.ts"
import { S3Writer } from "./s3-stream.ts"
import {
  bareEtag,
  ConditionFailed,
  type ObjectInfo,
  type ObjectStore,
  type ObjectTail,
  type ObjectWriter,
  type PutOptions,
  tailByRange,
} from "./store.ts"

export type { S3Options } from "./s3-client.ts"

const MIB = 1024 * 1024

/** An {@link ObjectStore} over one S3 bucket. */
export class S3Store implements ObjectStore {
  readonly description: string
  readonly #client: S3Client
  readonly #bucket: string
  readonly #where: string
  readonly #threshold: number
  readonly #partSize: number
  readonly #partConcurrency: number
  readonly #options: S3Options
  #checked: Promise<void> | undefined
  #direct: Promise<DirectS3 | undefined> | undefined
  /**
   * A part: a file held until then goes in one PUT; a bigger one streams, which costs a copy on the
   * server but holds a part, not up to the multipart threshold (64 MiB), of each file in memory.
   */
  readonly streamAbove: number

  constructor(options: S3Options) {
    this.#bucket = options.bucket
    this.#threshold = options.multipartThreshold ?? 64 * MIB
    this.#partSize = options.partSize ?? Math.min(16 * MIB, this.#threshold)
    this.streamAbove = this.#partSize
    this.#partConcurrency = options.partConcurrency ?? 4
    this.#where = options.endpoint ? ` at ${options.endpoint}` : ""
    this.description = `s3://${options.bucket}${this.#where}`
    this.#client = s3Client(options)
    this.#options = options
  }

  /** The signed-fetch path for the once-per-file requests (see s3-direct.ts), when the bucket allows it. */
  #directPath(): Promise<DirectS3 | undefined> {
    // where it cannot be set up, the SDK makes those requests too (and reports what is wrong)
    this.#direct ??= DirectS3.forStore(this.#client, this.#options).catch(() => undefined)
    return this.#direct
  }

  /**
   * Runs one SDK call after the bucket check. Failures leave as CompactErrors naming `action`;
   * "no such key" leaves as it is (callers turn it into undefined), a failed condition as ConditionFailed.
   */
  #send = async <T>(
    action: string,
    run: (client: S3Client) => Promise<T>,
    conditional = false,
    scope = "",
  ): Promise<T> => {
    await this.#check(scope)
    try {
      return await run(this.#client)
    } catch (error) {
      if (conditional && (httpStatus(error) === 412 || httpStatus(error) === 409)) {
        throw new ConditionFailed(`Cannot ${action}: it changed`, { cause: error })
      }
      if (isNoSuchKey(error)) throw error
      throw s3Failure(error, action, this.#bucket, this.#where)
    }
  }

  /** The bucket check of {@link checkBucket}, once per store (again after a failure). */
  #check(scope: string): Promise<void> {
    this.#checked ??= checkBucket(this.#client, this.#bucket, this.#where, scope).catch((error) => {
      this.#checked = undefined
      throw error
    })
    return this.#checked
  }

  async get(key: string) {
    return await this.#read(key, undefined)
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const read = await this.#read(key, `bytes=${start}-${end - 1}`)
    if (!read) {
      // callers HEAD first: a key gone since was replaced or removed by another run meanwhile
      throw new CompactError(
        "RETRYABLE",
        `Cannot read "${key}" from bucket "${this.#bucket}": it disappeared while being read; rerun the range`,
      )
    }
    return read.bytes
  }

  /** GET with the body read whole; a body that breaks off is read again up to `bodyAttempts` times. */
  async #read(key: string, range: string | undefined) {
    const input = { Bucket: this.#bucket, Key: key, ...(range ? { Range: range } : {}) }
    const get = () =>
      this.#send(`read "${key}"`, (c) => c.send(new GetObjectCommand(input)), false, key).catch((error) => {
        if (isNoSuchKey(error)) return undefined
        throw error
      })
    const what = `read "${key}" from bucket "${this.#bucket}"`
    const { idleTimeout = IDLE_TIMEOUT_MS, bodyAttempts = 4 } = this.#options
    const read = await readWhole(get, idleTimeout, bodyAttempts, what)
    return read && { bytes: read.bytes, etag: bareEtag(read.answer.ETag ?? "") }
  }

  /** Size and last bytes in one ranged GET: how the read-back after a commit checks each file. */
  async tail(key: string, length: number): Promise<ObjectTail | undefined> {
    const direct = DirectS3.names(key) ? await this.#directPath() : undefined
    if (!direct) return await tailByRange(this, key, length)
    try {
      return await this.#send(`read "${key}"`, () => direct.tail(key, length), false, key)
    } catch (error) {
      if (isNoSuchKey(error)) return undefined
      throw error
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.#send(
        `read "${key}"`,
        (c) => c.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key })),
        false,
        key,
      )
      return { size: out.ContentLength ?? 0, etag: bareEtag(out.ETag ?? "") }
    } catch (error) {
      if (isNoSuchKey(error)) return undefined
      throw error
    }
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    if (body.length > this.#threshold) {
      if (options.ifMatch !== undefined || options.ifNoneMatch) {
        throw new Error(
          `Cannot write "${key}" conditionally in parts: it is larger than ${this.#threshold} bytes`,
        )
      }
      await putMultipart(this.#send, {
        bucket: this.#bucket,
        key,
        body,
        contentType: options.contentType ?? "application/octet-stream",
        partSize: this.#partSize,
        concurrency: this.#partConcurrency,
      })
      // radosgw returns an empty ETag from CompleteMultipartUpload; HEAD has it
      return { etag: (await this.head(key))?.etag ?? "" }
    }
    return await this.#putOne(key, body, options, undefined)
  }

  /**
   * One conditional PUT (If-None-Match: *), and a HEAD only when it answers 412 or 409. A store
   * that ignores the condition overwrites the object with these same bytes: the server checked
   * them against `sha256`, whose first 16 digits the caller's name holds.
   */
  async putIfAbsent(key: string, body: Uint8Array, sha256: string): Promise<"created" | "exists"> {
    const single = body.length <= this.#threshold // a multipart upload cannot be conditional
    if (single) {
      try {
        await this.#putOne(key, body, { ifNoneMatch: "*" }, sha256)
        return "created"
      } catch (error) {
        if (!(error instanceof ConditionFailed)) throw error
      }
    }
    if ((await this.head(key))?.size === body.length) return "exists"
    // missing (multipart, or a concurrent write that failed) or of another size (damaged)
    await (single ? this.#putOne(key, body, {}, sha256) : this.put(key, body))
    return "created"
  }

  /** A single PUT, verified by the server: by `sha256` (hex) when given, else by Content-MD5. */
  async #putOne(key: string, body: Uint8Array, options: PutOptions, sha256: string | undefined) {
    const input = {
      Bucket: this.#bucket,
      Key: key,
      Body: body,
      ...(sha256 ? {} : { ContentMD5: md5Base64(body) }),
      ContentType: options.contentType ?? "application/octet-stream",
      // radosgw rejects a quoted If-Match ETag with a false 412; AWS accepts both forms
      ...(options.ifMatch !== undefined ? { IfMatch: bareEtag(options.ifMatch) } : {}),
      ...(options.ifNoneMatch ? { IfNoneMatch: options.ifNoneMatch } : {}),
    }
    const conditional = options.ifMatch !== undefined || options.ifNoneMatch !== undefined
    const direct = sha256 && options.ifMatch === undefined && DirectS3.names(key)
      ? await this.#directPath()
      : undefined
    if (direct && sha256) {
      const put = () => direct.put(key, body, sha256, input.ContentType, options.ifNoneMatch !== undefined)
      const out = await this.#send(`write "${key}"`, put, conditional, key)
      return { etag: bareEtag(out.etag) }
    }
    const command = new PutObjectCommand(input)
    if (sha256) presetPayloadHash(command, sha256)
    const out = await this.#send(`write "${key}"`, (c) => c.send(command), conditional, key)
    return { etag: bareEtag(out.ETag ?? "") }
  }

  create(near: string): ObjectWriter {
    return new S3Writer(this.#send, {
      bucket: this.#bucket,
      near,
      contentType: "application/octet-stream",
      partSize: this.#partSize,
      concurrency: this.#partConcurrency,
    })
  }

  async delete(key: string): Promise<void> {
    await this.#send(
      `delete "${key}"`,
      (c) => c.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key })),
      false,
      key,
    )
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = []
    let token: string | undefined
    do {
      const input = { Bucket: this.#bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }
      const out = await this.#send(
        `list "${prefix}"`,
        (c) => c.send(new ListObjectsV2Command(input)),
        false,
        prefix,
      )
      for (const item of out.Contents ?? []) if (item.Key) keys.push(item.Key)
      token = out.IsTruncated ? out.NextContinuationToken : undefined
    } while (token)
    return keys.sort()
  }

  async abortIncompleteUploads(prefix: string): Promise<number> {
    return await abortUploads(this.#send, this.#bucket, prefix, isNoSuchKey)
  }

  /** Closes the HTTP connections. */
  close(): void {
    this.#client.destroy()
  }
}

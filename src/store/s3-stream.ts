/**
 * An object streamed to S3 before its key is known (a file named by its sha256): the pieces go as a
 * multipart upload to a staging key beside the final one (`{near}~{pid}-{random}.tmp`, under the
 * partition's file prefix), parts `concurrency` at a time, each with its Content-MD5; finish()
 * completes the upload, copies the staging object to its key on the server (CopyObject, or
 * UploadPartCopy ranges above S3's 5 GiB single-copy limit) and deletes the staging object.
 *
 * Nothing under a `.parquet` key exists before the copy. What a killed process leaves is an
 * incomplete upload (aborted by abortIncompleteUploads() of the partition's prefix) or a staging
 * object (an unnamed object under the prefix, removed by the next run of the partition).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3"
import { randomBytes } from "node:crypto"
import { md5Base64, type Send } from "./s3-multipart.ts"
import type { ObjectWriter } from "./store.ts"

/** Bytes CopyObject copies at most (S3's limit); larger objects are copied in ranges. */
export const COPY_LIMIT = 5 * 1024 ** 3
/** Bytes of each range of a copy in parts. */
const COPY_PART = 1024 ** 3

/** What an S3 writer needs. */
export interface StreamInput {
  readonly bucket: string
  /** The staging key starts with it. */
  readonly near: string
  readonly contentType: string
  readonly partSize: number // bytes, ≥ 5 MiB but for the last part
  readonly concurrency: number
  /** Bytes above which the copy goes in ranges (default COPY_LIMIT; lower only to test it). */
  readonly copyLimit?: number
}

type Part = { ETag: string; PartNumber: number }

/** An {@link ObjectWriter} on S3 (see the module comment). */
export class S3Writer implements ObjectWriter {
  readonly #send: Send
  readonly #in: StreamInput
  /** The staging key. */
  readonly key: string
  #uploadId: Promise<string | undefined> | undefined
  #pending: Uint8Array[] = []
  #pendingBytes = 0
  #size = 0
  readonly #parts: Part[] = []
  #started = 0 // parts sent or being sent
  readonly #inflight = new Set<Promise<void>>()
  #failure: { error: unknown } | undefined
  /** Whether the staging object exists (its upload completed, not deleted yet). */
  #staged = false
  #aborted = false

  constructor(send: Send, input: StreamInput) {
    this.#send = send
    this.#in = input
    this.key = `${input.near}~${process.pid}-${randomBytes(6).toString("hex")}.tmp`
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.#check()
    this.#pending.push(bytes)
    this.#pendingBytes += bytes.length
    this.#size += bytes.length
    while (this.#pendingBytes >= this.#in.partSize) await this.#sendPart(this.#in.partSize)
  }

  /** Completes the multipart upload `UploadId` of `key` from its parts. */
  async #complete(action: string, key: string, UploadId: string | undefined, parts: Part[]): Promise<void> {
    await this.#send(
      action,
      (c) =>
        c.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.#in.bucket,
            Key: key,
            UploadId,
            MultipartUpload: { Parts: parts },
          }),
        ),
      false,
      key,
    )
  }

  async finish(key: string): Promise<void> {
    const { bucket: Bucket } = this.#in
    if (this.#pendingBytes > 0 || this.#started === 0) {
      await this.#sendPart(this.#pendingBytes) // the last part may be small; an empty object has one empty part
    }
    await Promise.all(this.#inflight)
    this.#check()
    const UploadId = (await this.#uploadId)!
    const action = `write "${key}"`
    await this.#complete(action, this.key, UploadId, this.#parts)
    this.#staged = true
    const source = `${Bucket}/${this.key.split("/").map(encodeURIComponent).join("/")}`
    if (this.#size <= (this.#in.copyLimit ?? COPY_LIMIT)) {
      await this.#send(
        action,
        (c) => c.send(new CopyObjectCommand({ Bucket, Key: key, CopySource: source })),
        false,
        key,
      )
    } else {
      await this.#copyInRanges(key, source)
    }
    await this.abort() // the staging object; left to the partition's next run when this fails
  }

  /** Copies the staging object to `key` in ranges of COPY_PART bytes (UploadPartCopy). */
  async #copyInRanges(key: string, source: string): Promise<void> {
    const { bucket: Bucket, contentType: ContentType } = this.#in
    const action = `copy "${this.key}" to "${key}"`
    const { UploadId } = await this.#send(
      action,
      (c) => c.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ContentType })),
      false,
      key,
    )
    try {
      const parts: Part[] = []
      const range = this.#in.copyLimit === undefined ? COPY_PART : Math.max(5 << 20, this.#in.copyLimit)
      for (let start = 0, n = 1; start < this.#size; start += range, n++) {
        const last = Math.min(this.#size, start + range) - 1
        const out = await this.#send(`${action} (part ${n})`, (c) =>
          c.send(
            new UploadPartCopyCommand({
              Bucket,
              Key: key,
              UploadId,
              PartNumber: n,
              CopySource: source,
              CopySourceRange: `bytes=${start}-${last}`,
            }),
          ))
        parts.push({ ETag: out.CopyPartResult?.ETag ?? "", PartNumber: n })
      }
      await this.#complete(action, key, UploadId, parts)
    } catch (error) {
      await this.#send(
        `abort the copy to "${key}"`,
        (c) => c.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId })),
      ).catch(() => undefined)
      throw error
    }
  }

  async abort(): Promise<void> {
    const { bucket: Bucket } = this.#in
    this.#aborted = true
    await Promise.allSettled(this.#inflight)
    const UploadId = await this.#uploadId?.catch(() => undefined)
    if (this.#staged) {
      await this.#send(
        `delete "${this.key}"`,
        (c) => c.send(new DeleteObjectCommand({ Bucket, Key: this.key })),
      )
        .then(() => (this.#staged = false), () => undefined)
    } else if (UploadId !== undefined) {
      // abortIncompleteUploads() of the partition's next run catches what this misses
      await this.#send(
        `abort the upload of "${this.key}"`,
        (c) => c.send(new AbortMultipartUploadCommand({ Bucket, Key: this.key, UploadId })),
      ).catch(() => undefined)
    }
    this.#uploadId = Promise.resolve(undefined)
  }

  /** Throws the first failure of a part sent in the background, or after abort(). */
  #check(): void {
    if (this.#failure) throw this.#failure.error
    if (this.#aborted) throw new Error(`Cannot write "${this.key}": its upload was aborted`)
  }

  /** Sends the next `size` pending bytes as a part once fewer than `concurrency` are in flight. */
  async #sendPart(size: number): Promise<void> {
    while (this.#inflight.size >= this.#in.concurrency) await Promise.race(this.#inflight)
    this.#check()
    const body = this.#take(size)
    const PartNumber = ++this.#started
    const { bucket: Bucket, contentType: ContentType } = this.#in
    this.#uploadId ??= this.#send(
      `write "${this.key}"`,
      (c) => c.send(new CreateMultipartUploadCommand({ Bucket, Key: this.key, ContentType })),
      false,
      this.key,
    ).then((out) => out.UploadId)
    const sent = (async () => {
      const UploadId = await this.#uploadId
      const out = await this.#send(`write "${this.key}" (part ${PartNumber})`, (c) =>
        c.send(
          new UploadPartCommand({
            Bucket,
            Key: this.key,
            UploadId,
            PartNumber,
            Body: body,
            ContentMD5: md5Base64(body),
          }),
        ))
      this.#parts.push({ ETag: out.ETag ?? "", PartNumber })
      this.#parts.sort((a, b) => a.PartNumber - b.PartNumber)
    })().catch((error) => {
      this.#failure ??= { error }
    })
    this.#inflight.add(sent)
    void sent.finally(() => this.#inflight.delete(sent))
  }

  /** The next `size` pending bytes in one buffer (pieces split where a part ends). */
  #take(size: number): Uint8Array {
    const first = this.#pending[0]
    if (first && first.length === size) {
      this.#pending.shift()
      this.#pendingBytes -= size
      return first
    }
    const out = new Uint8Array(size)
    let o = 0
    while (o < size) {
      const piece = this.#pending[0]!
      const n = Math.min(piece.length, size - o)
      out.set(piece.subarray(0, n), o)
      o += n
      if (n === piece.length) this.#pending.shift()
      else this.#pending[0] = piece.subarray(n)
    }
    this.#pendingBytes -= size
    return out
  }
}

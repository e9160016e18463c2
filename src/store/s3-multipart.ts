/**
 * Multipart uploads for S3Store: parts go `concurrency` at a time, each verified by its Content-MD5
 * (why not lib-storage's Upload: it sends no Content-MD5 per part, and the server's check of every
 * part is what proves the bytes arrived whole); any failure aborts the upload. Leftovers of a
 * process killed mid-upload are aborted by the next run's abortIncompleteUploads().
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3"
import { createHash } from "node:crypto"

/**
 * Sends through S3Store's error mapping: `action` names the request in messages; `scope` is the key
 * (or prefix) the request is about.
 */
export type Send = <T>(
  action: string,
  run: (client: S3Client) => Promise<T>,
  conditional?: boolean,
  scope?: string,
) => Promise<T>

/** Base64 MD5 of a body, for Content-MD5. */
export const md5Base64 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64")

/** What one multipart upload needs. */
export interface MultipartInput {
  readonly bucket: string
  readonly key: string
  readonly body: Uint8Array
  readonly contentType: string
  readonly partSize: number // bytes
  readonly concurrency: number
}

/** Uploads `body` in parts; on any failure aborts the upload and rethrows. */
export async function putMultipart(send: Send, input: MultipartInput): Promise<void> {
  const { bucket: Bucket, key: Key, body, partSize } = input
  const action = `write "${Key}"`
  const { UploadId } = await send(
    action,
    (c) => c.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: input.contentType })),
    false,
    Key,
  )
  const count = Math.ceil(body.length / partSize)
  const parts: { ETag: string; PartNumber: number }[] = new Array(count)
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < count) {
      const n = next++
      const chunk = body.subarray(n * partSize, (n + 1) * partSize)
      try {
        const out = await send(`${action} (part ${n + 1} of ${count})`, (c) =>
          c.send(
            new UploadPartCommand({
              Bucket,
              Key,
              UploadId,
              PartNumber: n + 1,
              Body: chunk,
              ContentMD5: md5Base64(chunk),
            }),
          ))
        parts[n] = { ETag: out.ETag ?? "", PartNumber: n + 1 }
      } catch (error) {
        failed = true // the other workers stop after their current part
        throw error
      }
    }
  }
  const results = await Promise.allSettled(Array.from({ length: Math.min(input.concurrency, count) }, worker))
  try {
    const failure = results.find((r) => r.status === "rejected")
    if (failure) throw failure.reason
    await send(
      action,
      (c) =>
        c.send(
          new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
        ),
    )
  } catch (error) {
    await send(
      `abort the upload of "${Key}"`,
      (c) => c.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })),
    )
      .catch(() => undefined) // abortIncompleteUploads() of the next run catches what this misses
    throw error
  }
}

/** Aborts every incomplete multipart upload under `prefix`; returns how many. */
export async function abortUploads(
  send: Send,
  bucket: string,
  prefix: string,
  isGone: (error: unknown) => boolean,
): Promise<number> {
  let aborted = 0
  let KeyMarker: string | undefined
  let UploadIdMarker: string | undefined
  for (;;) {
    const out = await send(`list incomplete uploads under "${prefix}"`, (c) =>
      c.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: prefix,
          ...(KeyMarker ? { KeyMarker } : {}),
          ...(UploadIdMarker ? { UploadIdMarker } : {}),
        }),
      ))
    for (const { Key, UploadId } of out.Uploads ?? []) {
      if (!Key || !UploadId || !Key.startsWith(prefix)) continue
      await send(
        `abort the incomplete upload of "${Key}"`,
        (c) => c.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId })),
      ).catch((error) => {
        if (!isGone(error)) throw error // NoSuchUpload: another run aborted it meanwhile
      })
      aborted++
    }
    if (!out.IsTruncated) return aborted
    KeyMarker = out.NextKeyMarker
    UploadIdMarker = out.NextUploadIdMarker
  }
}

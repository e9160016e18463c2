/**
 * The object store the compactor writes to: S3 (src/store/s3.ts) or a local folder
 * (src/store/local.ts). Only these adapters know how bytes are stored; the rest of the
 * program sees this interface.
 */

/** An object's bytes and the ETag to make a conditional write against. */
export interface StoredObject {
  readonly bytes: Uint8Array
  readonly etag: string
}

/** Size and ETag of an object, from a HEAD request. */
export interface ObjectInfo {
  readonly size: number // bytes
  readonly etag: string
}

/** Conditions for a put: `ifNoneMatch: "*"` creates only, `ifMatch` replaces only that version. */
export interface PutOptions {
  readonly ifMatch?: string
  readonly ifNoneMatch?: "*"
  readonly contentType?: string
}

/**
 * Thrown by `put` when its condition does not hold (HTTP 412, or 409 for a concurrent write).
 * Every other failure of a store is a CompactError: BAD_INPUT when no retry can fix it (no bucket,
 * access denied, wrong keys, no credentials, a folder that cannot be written), else RETRYABLE.
 */
export class ConditionFailed extends Error {
  override readonly name = "ConditionFailed"
}

/**
 * An object written piece by piece whose key is known only after its last piece (a file named by
 * its sha256): see {@link ObjectStore.create}. Nothing is visible under any key a reader lists as
 * data until finish(); a writer abandoned by a crash leaves only what abortIncompleteUploads() and
 * the partition's cleanup of unnamed objects remove.
 */
export interface ObjectWriter {
  /** Appends bytes; resolves once the writer can take more, so a slow store slows the caller. */
  write(bytes: Uint8Array): Promise<void>
  /**
   * True when write() no longer reads the bytes once it resolved (they may be reused then); false
   * or absent when it may still hold them (an S3 part is sent once it is full).
   */
  readonly doneOnWrite?: boolean
  /**
   * Makes the bytes written so far the object `key`, verified by the server, like an unconditional
   * put(key, bytes) (radosgw ignores If-None-Match on a server-side copy, so no condition is
   * offered); durable at once, or once the store's sync() resolved where it has one. Call it once,
   * after the last write; call abort() when it fails.
   */
  finish(key: string): Promise<void>
  /** Removes what the writer made before finish() completed; never throws, may be called twice. */
  abort(): Promise<void>
}

/** A key-value object store with conditional puts. Keys never start with "/". */
export interface ObjectStore {
  /** Where the store points, for messages: never contains credentials. */
  readonly description: string
  get(key: string): Promise<StoredObject | undefined>
  /** Bytes `[start, end)` of an object (end exclusive). */
  getRange(key: string, start: number, end: number): Promise<Uint8Array>
  head(key: string): Promise<ObjectInfo | undefined>
  /** An object's size and last `length` bytes in one request, where the store can (see readTail()). */
  tail?(key: string, length: number): Promise<ObjectTail | undefined>
  /** Writes the whole body, verified by the server (Content-MD5 on S3). */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<{ etag: string }>
  /**
   * Bytes of a file above which a writer streams it with create() rather than holding it for one
   * put() (default 64 MiB): 0 where streaming costs nothing more (a folder); on S3 a part (16 MiB),
   * since a streamed object also costs a copy on the server.
   */
  readonly streamAbove?: number
  /**
   * Starts an object written piece by piece (a store without it gets whole objects by put()). Until
   * finish() its bytes live in temporary state whose
   * key starts with `near` (a key prefix, e.g. a partition's file prefix and part number): what a
   * killed writer leaves is removed by abortIncompleteUploads(p) or shows in list(p) under any
   * prefix `p` of `near`, and never ends in `.parquet`.
   */
  create?(near: string): ObjectWriter
  /**
   * Writes a content-addressed object unless one of the body's size is already there: "exists"
   * when it was (the name holds a hash of the bytes, so it holds these bytes), "created" when this
   * call wrote it (also over an object of another size: a damaged copy). `sha256` is the body's
   * (lowercase hex); S3 sends it as the payload hash the server verifies.
   */
  putIfAbsent(key: string, body: Uint8Array, sha256: string): Promise<"created" | "exists">
  /**
   * Makes durable what writers finished without syncing (LocalStore syncs a folder once for all the
   * files finished into it, not once per file), and the objects `keys` name (their folders: one a
   * crashed run left behind may never have been synced). Call it before anything relies on them
   * surviving a power loss (a manifest naming them).
   */
  sync?(keys?: readonly string[]): Promise<void>
  delete(key: string): Promise<void>
  /** Every key under a prefix, in lexicographic order; never a temporary or incomplete object. */
  list(prefix: string): Promise<string[]>
  /**
   * Removes what interrupted writes under a prefix left behind (S3: incomplete multipart uploads;
   * a folder: temporary files) and returns how many. Call it only while no other writer of that
   * prefix runs (under the partition's lock): it also removes a running writer's upload.
   */
  abortIncompleteUploads(prefix: string): Promise<number>
}

/** An object's last bytes and its size, read at once. */
export interface ObjectTail {
  readonly size: number
  /** The last min(length asked for, size) bytes. */
  readonly bytes: Uint8Array
}

/**
 * The last `length` bytes of an object and its size, or undefined when it is missing: one request
 * where the store has tail(), else {@link tailByRange}.
 */
export async function readTail(
  store: ObjectStore,
  key: string,
  length: number,
): Promise<ObjectTail | undefined> {
  return await (store.tail ? store.tail(key, length) : tailByRange(store, key, length))
}

/** An object's tail by a head() and a getRange(). */
export async function tailByRange(store: ObjectStore, key: string, length: number) {
  const info = await store.head(key)
  if (!info) return undefined
  const start = Math.max(0, info.size - length)
  const bytes = info.size ? await store.getRange(key, start, info.size) : new Uint8Array(0)
  return { size: info.size, bytes }
}

/**
 * A byte-range reader (hyparquet's AsyncBuffer) over an object of `size` bytes: slices within
 * `tail` (its end, when already read) cost no request, any other slice is one getRange().
 */
export function objectSlices(store: ObjectStore, key: string, size: number, tail?: ObjectTail) {
  const from = tail ? size - tail.bytes.length : size
  return {
    byteLength: size,
    slice: async (start: number, end = size): Promise<ArrayBuffer> => {
      const bytes = tail && start >= from
        ? tail.bytes.subarray(start - from, end - from)
        : await store.getRange(key, start, end)
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    },
  }
}

/** Strips the quotes S3 puts around ETags, so ETags compare and send the same everywhere. */
export function bareEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1")
}

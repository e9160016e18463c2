/**
 * manifest.json on the store: commit a partition into it atomically (conditional PUT under the per-dataset advisory lock), and read back what was
 * committed before anything is deleted.
 */
import { createHash } from "node:crypto"
import { parquetMetadataAsync } from "hyparquet"
import { CompactError } from "./errors.ts"
import {
  emptyManifest,
  findPartition,
  type ManifestPartition,
  putPartition,
  serializeManifest,
  type TableSchema,
} from "./core/manifest.ts"
import { manifestKey } from "./core/naming.ts"
import { advisoryLock, type Sql } from "./pg/hot.ts"
import { ConditionFailed, objectSlices, type ObjectStore, readTail } from "./store/store.ts"
import { readManifest } from "./manifest-io.ts"
import type { Logger } from "./log.ts"
import { VERSION } from "./version.ts"
import { mapLimit } from "./limit.ts"

export { type ManifestRead, readManifest } from "./manifest-io.ts"

const COMMIT_ATTEMPTS = 10

/** Where a dataset's manifest lives and how to lock it. */
export interface ManifestTarget {
  readonly sql: Sql
  readonly store: ObjectStore
  readonly prefix: string
  readonly chainId: bigint
  readonly dataset: string
  readonly schema: TableSchema
  readonly lockTimeout: number // seconds
  readonly log: Logger
}

/**
 * Commits `partition` into manifest.json: under the per-dataset advisory lock, read, merge and write
 * conditionally (If-Match the ETag read, If-None-Match for the first); retried on conflict. Returns
 * the keys of files the partition no longer names, and whether the manifest changed.
 */
export async function commitPartition(
  target: ManifestTarget,
  partition: ManifestPartition,
  /** The partition as the run read it under its partition lock (undefined: not committed then). */
  expected: ManifestPartition | undefined,
): Promise<{ staleKeys: string[]; changed: boolean }> {
  const { store, prefix, chainId, dataset } = target
  const name = manifestKey(prefix, chainId, dataset)
  const lock = await advisoryLock(target.sql, `parquet_compact:${chainId}:${dataset}`, target.lockTimeout)
  try {
    for (let attempt = 1;; attempt++) {
      const current = await readManifest(store, prefix, chainId, dataset)
      const base = current?.manifest ?? emptyManifest(chainId, dataset, `parquet_compact ${VERSION}`)
      const now = findPartition(base, partition.partition_key)
      const nowText = now === undefined ? "" : serializePartition(now)
      if (
        nowText !== (expected === undefined ? "" : serializePartition(expected)) &&
        nowText !== serializePartition(partition)
      ) {
        // another run committed this partition since this one read it: its lock was lost or unavailable
        throw new CompactError(
          "LOCKED",
          `Cannot commit partition ${partition.partition_key} of ${dataset}: another run committed it meanwhile; ` +
            "nothing of this run was committed, rerun the range",
        )
      }
      const { manifest, staleKeys } = putPartition(base, partition, target.schema)
      const text = serializeManifest(manifest)
      if (text === current?.text) return { staleKeys, changed: false }
      try {
        await store.put(name, new TextEncoder().encode(text), {
          ...(current ? { ifMatch: current.etag } : { ifNoneMatch: "*" }),
          contentType: "application/json",
        })
        return { staleKeys, changed: true }
      } catch (error) {
        if (!(error instanceof ConditionFailed)) throw error
        if (attempt >= COMMIT_ATTEMPTS) {
          throw new CompactError(
            "RETRYABLE",
            `Cannot commit "${name}": it changed under ${COMMIT_ATTEMPTS} attempts in a row; rerun the same range`,
            { cause: error },
          )
        }
        target.log.warn(
          `Manifest changed while committing partition ${partition.partition_key}; merging again`,
        )
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt))
      }
    }
  } finally {
    await lock.release()
  }
}

/**
 * Reads back what was committed: the manifest must hold the partition exactly, and every file must
 * have the committed size and a Parquet footer with the committed row count; files this run did not
 * upload itself (`reused`) are also hashed whole. INTEGRITY otherwise, before anything is deleted.
 */
export async function verifyPartition(
  target: ManifestTarget,
  partition: ManifestPartition,
  reused: ReadonlySet<string>,
): Promise<void> {
  const { store } = target
  const fail = (detail: string) =>
    new CompactError(
      "INTEGRITY",
      `Cannot verify partition ${partition.partition_key} of ${target.dataset}: ${detail}; nothing was deleted, rerun the range`,
    )
  const current = await readManifest(store, target.prefix, target.chainId, target.dataset)
  const found = current && findPartition(current.manifest, partition.partition_key)
  if (!found || serializePartition(found) !== serializePartition(partition)) {
    throw fail("the manifest read back does not hold the partition as committed")
  }
  // size and footer of a few files at a time (one GET of its end each on S3); whole files one at a time
  await mapLimit(partition.files, VERIFY_CONCURRENCY, async (file) => {
    const tail = await readTail(store, file.key, FOOTER_BYTES)
    if (!tail || tail.size !== file.bytes) {
      throw fail(`"${file.key}" has ${tail?.size ?? "no"} bytes, not ${file.bytes}`)
    }
    const footer = { initialFetchSize: FOOTER_BYTES }
    const metadata = await parquetMetadataAsync(objectSlices(store, file.key, tail.size, tail), footer).catch(
      (cause) => {
        // a read that failed is worth retrying; only bytes that are not a footer are an integrity problem
        if (cause instanceof CompactError) throw cause
        throw fail(`"${file.key}" has no readable Parquet footer (${(cause as Error).message})`)
      },
    )
    if (metadata.num_rows !== BigInt(file.rows)) {
      throw fail(`"${file.key}" holds ${metadata.num_rows} rows by its footer, not ${file.rows}`)
    }
  })
  for (const file of partition.files.filter((f) => reused.has(f.key))) {
    const bytes = (await store.get(file.key))?.bytes
    const sha = bytes && createHash("sha256").update(bytes).digest("hex")
    if (sha !== file.sha256) throw fail(`"${file.key}" does not have the recorded sha256`)
  }
}

/** Files whose size and footer are read back at once by verifyPartition(). */
const VERIFY_CONCURRENCY = 8

/** A footer is a few KiB: 64 KiB of a file's end, not hyparquet's default 512 (it reads more if needed). */
const FOOTER_BYTES = 64 * 1024

/** A hyparquet AsyncBuffer over an object, fetching only the byte ranges asked for. */
export async function objectBuffer(store: ObjectStore, key: string) {
  const info = await store.head(key)
  if (!info) {
    throw new CompactError("INTEGRITY", `Cannot read "${key}": the manifest names it but it is missing`)
  }
  return objectSlices(store, key, info.size)
}

function serializePartition(p: ManifestPartition): string {
  return JSON.stringify(p, (_, v) => (typeof v === "bigint" ? v.toString() : v))
}

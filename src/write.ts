/**
 * Streams a partition's hot rows into Parquet files and puts them in the store under names fixed by
 * their bytes (`…_{part}_{sha256 prefix}.parquet`): a file that is already there holds these very
 * bytes and is not uploaded again, and no committed object is ever overwritten with other content.
 */
import { createHash } from "node:crypto"
import type { Dataset } from "./dataset.ts"
import { CompactError } from "./errors.ts"
import type { ManifestFile } from "./core/manifest.ts"
import { objectKey, partitionKey } from "./core/naming.ts"
import type { BlockRange } from "./core/range.ts"
import { BufferPool } from "./pg/batch.ts"
import { decodeCopyBinary } from "./pg/copy.ts"
import { copyWithFingerprint, type Fingerprint } from "./pg/fingerprint.ts"
import { rangeWhere } from "./pg/hot.ts"
import { quoteIdent } from "./pg/schema.ts"
import { encodeParquetFilesThreaded } from "./parquet/threaded.ts"
import { VERSION } from "./version.ts"

/** What writing a partition's files produced. */
export interface Written {
  readonly files: ManifestFile[]
  /** Keys this run put (to remove again if the partition is not committed). */
  readonly uploaded: Set<string>
  /** Keys that were already in the store with these bytes (hashed again on verify). */
  readonly reused: Set<string>
  /** The copied rows' fingerprint, from the COPY's snapshot. */
  readonly source: Fingerprint
  readonly snapshotXmax: bigint
}

/**
 * Writes the range's hot rows as files numbered from `firstPart`. Stops with INTERRUPTED between
 * files once `signal` is aborted; the caller removes what was uploaded.
 */
export async function writeFiles(
  ds: Dataset,
  range: BlockRange,
  firstPart: number,
  uploaded: Set<string>,
  signal?: AbortSignal,
): Promise<Written> {
  const { config, deps, source } = ds
  const columns = source.info.columns
  const select = columns.map((c) => quoteIdent(c.name)).join(", ")
  const order = ds.orderBy.map(quoteIdent).join(", ")
  const statement = `COPY (SELECT ${select} ${
    rangeWhere(source, range)
  } ORDER BY ${order}) TO STDOUT (FORMAT binary)`
  const copy = copyWithFingerprint(deps.databaseUrl, source, range, statement)
  // decoded batches of one row group each (restarting at every file), in buffers the encoder hands back
  const pool = new BufferPool()
  const batches = decodeCopyBinary(copy.chunks, columns, ds.rowGroupSize, {
    restartEvery: config.chunkSize,
    pool,
  })
  const key = partitionKey(range)
  const kvMetadata = [
    { key: "parquet_compact.chain_id", value: config.chainId.toString() },
    { key: "parquet_compact.dataset", value: config.dataset },
    { key: "parquet_compact.partition_key", value: key },
    { key: "parquet_compact.start_block", value: range.first.toString() },
    { key: "parquet_compact.end_block", value: range.last.toString() },
    { key: "parquet_compact.schema_hash", value: ds.schema.hash },
    { key: "parquet_compact.version", value: VERSION },
  ]
  // decoding here, encoding on a worker thread: the two halves of the CPU work on the two cores
  const encoded = encodeParquetFilesThreaded(batches, {
    columns,
    chunkSize: config.chunkSize,
    rowGroupSize: ds.rowGroupSize,
    blockColumn: config.blockColumn,
    kvMetadata,
    pageVersion: config.pageVersion,
    uuidAs: config.uuidAs,
  }, { onFallback: (line) => deps.log.warn(line), recycle: (buffers) => pool.give(buffers) })
  const files: ManifestFile[] = []
  const reused = new Set<string>()
  let pending: Promise<void> = Promise.resolve()
  for await (const file of encoded) {
    const part = firstPart + file.part
    const sha256 = createHash("sha256").update(file.bytes).digest("hex")
    const name = objectKey(deps.prefix, config.chainId, config.dataset, range, part, sha256)
    const entry: ManifestFile = {
      key: name,
      part,
      rows: file.rows,
      bytes: file.bytes.length,
      sha256,
      min_block: file.rows > 0 ? file.minBlock : null,
      max_block: file.rows > 0 ? file.maxBlock : null,
    }
    files.push(entry)
    const upload = async () => {
      uploaded.add(name) // before the put: a put that fails midway may still leave the object
      if (await deps.store.putIfAbsent(name, file.bytes, sha256) === "exists") {
        uploaded.delete(name)
        reused.add(name)
        return
      }
      await deps.checkpoint?.("uploaded-file")
    }
    // one upload in flight while the next file encodes
    await pending
    if (signal?.aborted) throw interrupted(key)
    pending = upload()
    pending.catch(() => {}) // awaited on the next file or below; this only marks it handled meanwhile
  }
  await pending
  if (signal?.aborted) throw interrupted(key)
  return { files, uploaded, reused, source: await copy.fingerprint, snapshotXmax: await copy.snapshotXmax }
}

function interrupted(key: string): CompactError {
  return new CompactError(
    "INTERRUPTED",
    `Stopped partition ${key} before committing it: a stop signal arrived; rerun to compact it`,
  )
}

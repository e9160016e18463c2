/**
 * Streams a partition's hot rows into Parquet files and puts them in the store under names fixed by
 * their bytes (`…_{part}_{sha256 prefix}.parquet`): a file that is already there holds these very
 * bytes and is not uploaded again, and no committed object is ever overwritten with other content.
 *
 * A file leaves the encoder row group by row group and is hashed as it comes. Up to the store's
 * `streamAbove` bytes its pieces are held and go in one put() once the name is known; past that they
 * stream into an ObjectWriter (a temporary file, or an S3 upload to a staging key) that takes the
 * name at the end. So memory is a few row groups, not a file, whatever --chunk-size is.
 */
import { createHash, type Hash } from "node:crypto"
import type { Dataset } from "./dataset.ts"
import { CompactError } from "./errors.ts"
import type { ManifestFile } from "./core/manifest.ts"
import { objectKey, partitionFilePrefix, partitionKey } from "./core/naming.ts"
import type { BlockTally } from "./core/blocktally.ts"
import type { BlockRange } from "./core/range.ts"
import { BufferPool } from "./buffer-pool.ts"
import type { ColumnBatch } from "./pg/batch.ts"
import { decodeCopyBinary } from "./pg/copy.ts"
import { checkRowHash, copyInSnapshot, type Fingerprint } from "./pg/fingerprint.ts"
import { ROW_VERSION_COLUMNS, RowHashSum } from "./pg/rowhash.ts"
import { rangeWhere } from "./pg/hot.ts"
import { quoteIdent } from "./pg/schema.ts"
import { concatBytes, type FilePiece } from "./parquet/pieces.ts"
import { tallyBlocks } from "./parquet/rows.ts"
import { encodeParquetPiecesThreaded } from "./parquet/threaded.ts"
import type { ObjectWriter } from "./store/store.ts"
import { VERSION } from "./version.ts"

/** Rows per decoded batch, at most: a row group of more is decoded in equal shares. */
const BATCH_ROWS = 25_000

/** Bytes of a file held for one put() when the store does not say (see ObjectStore.streamAbove). */
const STREAM_ABOVE = 64 * 1024 * 1024

/** The file whose pieces are arriving: held until `streamAbove` bytes, then streamed to `writer`. */
interface Arriving {
  readonly part: number
  readonly hash: Hash
  size: number // bytes so far
  held: FilePiece[]
  writer: ObjectWriter | undefined
}

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
 * pieces once `signal` is aborted, removing what the file being written left; the caller removes
 * what was uploaded. `tally` sees the block column of every row copied.
 */
export async function writeFiles(
  ds: Dataset,
  range: BlockRange,
  firstPart: number,
  uploaded: Set<string>,
  signal?: AbortSignal,
  tally?: BlockTally,
): Promise<Written> {
  const { config, deps, source } = ds
  const columns = source.info.columns
  const select = columns.map((c) => quoteIdent(c.name)).join(", ")
  const order = ds.orderBy.map(quoteIdent).join(", ")
  // the last columns are each row's version (its hash, or ctid and xmin hashed here): the copied
  // rows' fingerprint is the sum of their hashes
  const rowHash = new RowHashSum(await checkRowHash(deps.sql))
  const statement = `COPY (SELECT ${select}, ${ROW_VERSION_COLUMNS[rowHash.form]} ${
    rangeWhere(source, range)
  } ORDER BY ${order}) TO STDOUT (FORMAT binary)`
  const copy = copyInSnapshot(deps.databaseUrl, statement)
  // decoded batches of a row group or an equal share of one (restarting at every file), in buffers
  // the encoder hands back: the finer the batches, the fewer rows decoded ahead of the encoder
  const pool = new BufferPool()
  const shares = Math.ceil(ds.rowGroupSize / BATCH_ROWS)
  const batches = decodeCopyBinary(copy.chunks, columns, Math.ceil(ds.rowGroupSize / shares), {
    restartEvery: config.chunkSize,
    pool,
    rowHash,
  })
  // the block column of every row streamed, before its batch moves to the encoder thread
  const blockIndex = columns.findIndex((c) => c.name === config.blockColumn)
  const fed = tally ? tallied(batches, blockIndex, tally) : batches
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
  const pieces = encodeParquetPiecesThreaded(fed, {
    columns,
    chunkSize: config.chunkSize,
    rowGroupSize: ds.rowGroupSize,
    blockColumn: config.blockColumn,
    kvMetadata,
    pageVersion: config.pageVersion,
    uuidAs: config.uuidAs,
  }, { onFallback: (line) => deps.log.warn(line), recycle: (buffers) => pool.give(buffers) })
  const { store } = deps
  const streamAbove = store.create ? store.streamAbove ?? STREAM_ABOVE : Infinity
  const filePrefix = partitionFilePrefix(deps.prefix, config.chainId, config.dataset, range)
  const files: ManifestFile[] = []
  const reused = new Set<string>()
  /** Puts the file, or publishes the streamed one, unless its name is already there. */
  const publish = async (file: Arriving, entry: ManifestFile) => {
    const name = entry.key
    try {
      if (file.writer) {
        if ((await store.head(name))?.size === entry.bytes) {
          reused.add(name)
          await file.writer.abort()
          return
        }
        uploaded.add(name) // before the copy: one that fails midway may still leave the object
        await file.writer.finish(name)
      } else {
        uploaded.add(name) // before the put: a put that fails midway may still leave the object
        const body = concatBytes(file.held.map((p) => p.bytes))
        if (file.held.length > 1) file.held.forEach((p) => p.release?.()) // copied into body
        // one conditional put, verified by the server against the file's sha256
        const put = await store.putIfAbsent(name, body, entry.sha256)
        // a lone piece is the body itself: its buffer goes back once the put settled. An attempt
        // still sending then (answered early, e.g. 412) sends for a request already answered, and
        // a server only ever stores a body whose bytes hash to the signed sha256
        if (file.held.length === 1) file.held[0]!.release?.()
        if (put === "exists") {
          uploaded.delete(name)
          reused.add(name)
          return
        }
      }
    } catch (error) {
      await file.writer?.abort()
      throw error
    }
    await deps.checkpoint?.("uploaded-file")
  }
  /** Writes a piece, whose buffer goes back to the encoder when the writer is done with its bytes. */
  const stream = async (writer: ObjectWriter, piece: FilePiece) => {
    await writer.write(piece.bytes)
    if (writer.doneOnWrite) piece.release?.()
  }
  let arriving: Arriving | undefined
  let pending: Promise<void> = Promise.resolve()
  try {
    for await (const piece of pieces) {
      if (signal?.aborted) throw interrupted(key)
      const part = firstPart + piece.part
      const file: Arriving = arriving ??= {
        part,
        hash: createHash("sha256"),
        size: 0,
        held: [],
        writer: undefined,
      }
      file.hash.update(piece.bytes)
      file.size += piece.bytes.length
      if (file.writer === undefined && file.size > streamAbove) {
        file.writer = store.create!(`${filePrefix}${String(part).padStart(4, "0")}`)
        for (const held of file.held) await stream(file.writer, held)
        file.held = []
      }
      if (file.writer === undefined) file.held.push(piece)
      else {
        await stream(file.writer, piece)
        await deps.checkpoint?.("streamed-piece")
      }
      if (!piece.end) continue
      const sha256 = file.hash.digest("hex")
      const rows = piece.end.rows
      files.push({
        key: objectKey(deps.prefix, config.chainId, config.dataset, range, part, sha256),
        part,
        rows,
        bytes: file.size,
        sha256,
        min_block: rows > 0 ? piece.end.minBlock : null,
        max_block: rows > 0 ? piece.end.maxBlock : null,
      })
      // one file being published while the next one streams
      await pending
      if (signal?.aborted) throw interrupted(key)
      arriving = undefined // publish() owns the file's writer now
      pending = publish(file, files.at(-1)!)
      pending.catch(() => {}) // awaited on the next file or below; this only marks it handled meanwhile
    }
    await pending
    // the files are durable before the manifest names them, also those a crashed run left (reused)
    await store.sync?.(files.map((f) => f.key))
  } catch (error) {
    // nothing of this run may still be writing once the caller removes what it uploaded
    await pending.catch(() => undefined)
    await arriving?.writer?.abort()
    throw error
  }
  if (signal?.aborted) throw interrupted(key)
  const fingerprint = { rows: rowHash.rows, fingerprint: rowHash.sum }
  return { files, uploaded, reused, source: fingerprint, snapshotXmax: await copy.snapshotXmax }
}

async function* tallied(batches: AsyncIterable<ColumnBatch>, index: number, tally: BlockTally) {
  for await (const batch of batches) {
    tallyBlocks(batch.columns[index]!, batch.rows, tally)
    yield batch
  }
}

function interrupted(key: string): CompactError {
  return new CompactError(
    "INTERRUPTED",
    `Stopped partition ${key} before committing it: a stop signal arrived; rerun to compact it`,
  )
}

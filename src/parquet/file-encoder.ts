/**
 * One Parquet file being encoded (encode.ts): its ParquetWriter, the rows of the row group not yet
 * written, the block column's range, and the sink its pieces are taken from.
 */
import { ParquetWriter } from "hyparquet-writer"
import type { ColumnChunk, SchemaElement } from "hyparquet"
import { CompactError } from "../errors.ts"
import type { ColumnBatch } from "../pg/batch.ts"
import type { ColumnSpec } from "../pg/schema.ts"
import { CREATED_BY } from "../version.ts"
import { writeColumnChunk } from "./chunk.ts"
import { type LeafType, leafType, toLeaf } from "./leaf.ts"
import { PackedList } from "./packed.ts"
import type { BufferPool } from "../buffer-pool.ts"
import { type FilePiece, PieceWriter } from "./pieces.ts"
import { Gatherer } from "./gather.ts"
import { blockRange, type Segment } from "./rows.ts"
import { parquetSchema, type UuidAs } from "./schema.ts"

/** Options of encodeParquetFiles(). */
export interface EncodeOptions {
  columns: readonly ColumnSpec[]
  /** Rows per file, at most. */
  chunkSize: number
  /** Rows per row group (the last group of each file may be shorter). */
  rowGroupSize: number
  /** Integer column whose min/max each EncodedFile reports. */
  blockColumn: string
  /** Footer key/value metadata, written exactly as given. */
  kvMetadata: { key: string; value: string }[]
  /** Footer created_by; keep it stable for byte-identical output. Default: CREATED_BY. */
  createdBy?: string
  /** 1 (default): DATA_PAGE, read by every reader; 2: DATA_PAGE_V2. */
  pageVersion?: 1 | 2
  /** uuid columns as "uuid" (default: UUID-annotated) or "binary" (plain 16 bytes). */
  uuidAs?: UuidAs
}

/** Bytes of values per data page, about (ParquetWriter.write()'s default). */
const PAGE_SIZE = 1 << 20

/** The file being written: its ParquetWriter plus the rows of the row group not yet written. */
export class FileEncoder {
  readonly #opts: EncodeOptions
  readonly #schema: SchemaElement[]
  readonly #blockIndex: number
  readonly #leaves: LeafType[]
  /** Per column: its leaf's path below the root. */
  readonly #paths: string[][]
  readonly #pageVersion: 1 | 2
  #part = 0
  /** Bytes of a piece, about: the next file's sink starts at the last one's. */
  #sizeHint = 1 << 20
  #writer: PieceWriter | undefined
  readonly #buffers: BufferPool | undefined
  #parquet: ParquetWriter | undefined
  #plain: boolean[] = []
  #segments: Segment[] = []
  /** Gathers a row group's column from the batches its rows came in. */
  readonly #gather = new Gatherer()
  /** Rows already written as row groups of the current file. */
  rows = 0
  /** Rows waiting in #segments for the next row group. */
  groupRows = 0
  #minBlock = 0n
  #maxBlock = 0n
  /** Gets each batch whose rows are all written (see encodeParquetFiles()). */
  readonly #done: (batch: ColumnBatch) => void

  constructor(
    opts: EncodeOptions,
    blockIndex: number,
    done: (batch: ColumnBatch) => void,
    buffers: BufferPool | undefined,
  ) {
    this.#done = done
    this.#buffers = buffers
    this.#opts = opts
    this.#schema = parquetSchema(opts.columns, opts.uuidAs === undefined ? {} : { uuidAs: opts.uuidAs })
    this.#blockIndex = blockIndex
    this.#leaves = opts.columns.map(leafType)
    this.#paths = opts.columns.map((c) => (c.kind === "array" ? [c.name, "list", "element"] : [c.name]))
    const version = opts.pageVersion ?? 1
    if (version !== 1 && version !== 2) {
      throw new CompactError("BAD_INPUT", `Cannot write Parquet page version "${version}": use 1 or 2`)
    }
    this.#pageVersion = version
  }

  /** Rows the pending row group can still take without passing rowGroupSize or chunkSize. */
  roomInGroup(): number {
    const { rowGroupSize, chunkSize } = this.#opts
    return Math.min(rowGroupSize - this.groupRows, chunkSize - this.rows - this.groupRows)
  }

  add(batch: ColumnBatch, start: number, end: number): void {
    if (end <= start) return
    this.#segments.push({ batch, start, end })
    const [min, max] = blockRange(batch.columns[this.#blockIndex]!, start, end, this.#opts.blockColumn)
    if (this.rows === 0 && this.groupRows === 0) {
      this.#minBlock = min
      this.#maxBlock = max
    } else {
      if (min < this.#minBlock) this.#minBlock = min
      if (max > this.#maxBlock) this.#maxBlock = max
    }
    this.groupRows += end - start
  }

  /** Writes the pending rows as one row group (after the magic, for a file's first). */
  writeGroup(): void {
    if (this.#parquet === undefined) {
      this.#writer = new PieceWriter(this.#sizeHint, this.#buffers)
      this.#parquet = new ParquetWriter({
        writer: this.#writer,
        schema: this.#schema,
        codec: "SNAPPY",
        statistics: true,
        kvMetadata: this.#opts.kvMetadata,
        createdBy: this.#opts.createdBy ?? CREATED_BY,
      })
      this.#plain = this.#leaves.map(() => false)
    }
    const parquet = this.#parquet
    const writer = this.#writer!
    const groupStart = writer.offset
    const chunks: ColumnChunk[] = []
    let totalByteSize = 0n
    this.#opts.columns.forEach((_, j) => {
      const t = this.#leaves[j]!
      const values = this.#gather.column(this.#segments, j, this.groupRows)
      const leaf = values instanceof PackedList ? values.leaf : toLeaf(t, values)
      const result = writeColumnChunk(writer, t, leaf, {
        path: this.#paths[j]!,
        pageSize: PAGE_SIZE,
        pageVersion: this.#pageVersion,
        plain: this.#plain[j]!,
      })
      chunks.push(result.chunk)
      parquet.pendingIndexes.push(result)
      totalByteSize += result.chunk.meta_data?.total_uncompressed_size ?? 0n
      if (t.type !== "BOOLEAN" && !result.chunk.meta_data?.encodings.includes("RLE_DICTIONARY")) {
        this.#plain[j] = true
      }
    })
    parquet.num_rows += BigInt(this.groupRows)
    parquet.row_groups.push({
      columns: chunks,
      total_byte_size: totalByteSize,
      num_rows: BigInt(this.groupRows),
      total_compressed_size: BigInt(writer.offset - groupStart),
    })
    this.rows += this.groupRows
    this.groupRows = 0
    const written = this.#segments
    this.#segments = []
    // byte statistics are copies and pages are copied into the file: the batches may go
    for (const { batch, end } of written) if (end === batch.rows) this.#done(batch)
  }

  /** The bytes written since the last piece (see encodeParquetPieces()). */
  piece(): FilePiece {
    return { part: this.#part, bytes: this.#writer!.take() }
  }

  /** Closes the current file and returns its footer; the next rows start part + 1. */
  finish(): FilePiece {
    const parquet = this.#parquet
    const writer = this.#writer
    if (parquet === undefined || writer === undefined) throw new Error("finish() without rows")
    void parquet.finish()
    const piece: FilePiece = {
      part: this.#part++,
      bytes: writer.take(true),
      end: { rows: this.rows, minBlock: this.#minBlock, maxBlock: this.#maxBlock },
    }
    this.#sizeHint = writer.hint
    this.#parquet = undefined
    this.#writer = undefined
    this.rows = 0
    return piece
  }
}

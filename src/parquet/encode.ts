/**
 * Column batches → snappy Parquet files of at most chunkSize rows, in row groups of exactly
 * rowGroupSize rows (the last group of a file may be shorter). Output is a pure function of
 * the rows and options: same rows, same bytes.
 *
 * Dictionary rule (per file, per column): each row group's chunk tries a dictionary (1000 values
 * sampled, then kept only if it at least halves the plain bytes; see dictionary.ts) until a row
 * group of the column comes out without one; the column is then written PLAIN for the rest of the
 * file. So hashes and log data pay for one dictionary attempt per file while addresses, topic0
 * and small integers keep theirs. Decisions never cross files, which keeps output deterministic.
 *
 * Pages are written by chunk.ts (DATA_PAGE v1 by default); hyparquet-writer's public
 * ParquetWriter writes the file's magic, the offset indexes and the footer.
 */
import { createHash } from "node:crypto"
import { ParquetWriter } from "hyparquet-writer"
import type { ColumnChunk, SchemaElement } from "hyparquet"
import { CompactError } from "../errors.ts"
import type { ColumnBatch } from "../pg/batch.ts"
import type { ColumnSpec } from "../pg/schema.ts"
import { CREATED_BY } from "../version.ts"
import { writeColumnChunk } from "./chunk.ts"
import { type LeafType, leafType, toLeaf } from "./leaf.ts"
import { PackedList } from "./packed.ts"
import { type EncodedFile, type FilePiece, joinPieces, type PieceBuffers, PieceWriter } from "./pieces.ts"
import { Gatherer } from "./gather.ts"
import { blockRange, type Segment } from "./rows.ts"
import { parquetSchema, type UuidAs } from "./schema.ts"

export type { EncodedFile, FilePiece } from "./pieces.ts"

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

/**
 * Encodes batches into Parquet files, splitting exactly every chunkSize rows. `done` gets each
 * batch once all its rows are written and nothing written refers to its buffers any more (the
 * caller may reuse them then). Each file is held whole: see encodeParquetPieces() for the bytes of
 * a file as they are made.
 */
export function encodeParquetFiles(
  batches: AsyncIterable<ColumnBatch>,
  opts: EncodeOptions,
  done: (batch: ColumnBatch) => void = () => {},
): AsyncGenerator<EncodedFile> {
  return joinPieces(encodeParquetPieces(batches, opts, done))
}

/**
 * The files of encodeParquetFiles(), byte for byte, as they are made: the first piece of a file is
 * its magic and first row group, then one piece per row group; the last row group and the footer
 * are the last piece (with `end`), so a file of one row group is one piece. Memory is a row group's
 * rows and bytes, whatever the rows per file. Pieces are written into buffers from `buffers` when
 * given (see FilePiece.release).
 */
export async function* encodeParquetPieces(
  batches: AsyncIterable<ColumnBatch>,
  opts: EncodeOptions,
  done: (batch: ColumnBatch) => void = () => {},
  buffers?: PieceBuffers,
): AsyncGenerator<FilePiece> {
  const { columns, chunkSize, rowGroupSize } = opts
  for (const [name, value] of [["chunkSize", chunkSize], ["rowGroupSize", rowGroupSize]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new CompactError(
        "BAD_INPUT",
        `Cannot encode Parquet with ${name} ${value}: use a positive integer`,
      )
    }
  }
  const blockIndex = columns.findIndex((c) => c.name === opts.blockColumn)
  const blockSpec = columns[blockIndex]
  if (!blockSpec || !["int2", "int4", "int8"].includes(blockSpec.kind)) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot use block column "${opts.blockColumn}": ` +
        (blockSpec ? `its type "${blockSpec.pgType}" is not an integer` : "no such column") +
        `; set --block-column to an integer column`,
    )
  }
  const file = new FileEncoder(opts, blockIndex, done, buffers)
  // a file's last row group goes out with the footer, in one piece: a full group that ends the
  // rows so far waits for the next rows, or for the end of the stream
  let waiting = false
  for await (const batch of batches) {
    checkBatch(batch, columns)
    if (waiting && batch.rows > 0) {
      yield file.piece()
      waiting = false
    }
    let offset = 0
    while (offset < batch.rows) {
      const take = Math.min(batch.rows - offset, file.roomInGroup())
      file.add(batch, offset, offset + take)
      offset += take
      if (file.roomInGroup() === 0) {
        file.writeGroup()
        if (file.rows < chunkSize && offset < batch.rows) yield file.piece()
        else if (file.rows < chunkSize) waiting = true
      }
      if (file.rows === chunkSize) yield file.finish()
    }
  }
  if (file.groupRows > 0) file.writeGroup()
  if (file.rows > 0) yield file.finish()
}

function checkBatch(batch: ColumnBatch, columns: readonly ColumnSpec[]): void {
  if (batch.columns.length !== columns.length) {
    throw new CompactError(
      "INTEGRITY",
      `Cannot encode a batch of ${batch.columns.length} columns: expected ${columns.length}`,
    )
  }
  batch.columns.forEach((values, i) => {
    if (values.length !== batch.rows) {
      throw new CompactError(
        "INTEGRITY",
        `Cannot encode column "${
          columns[i]?.name
        }": it has ${values.length} values in a batch of ${batch.rows} rows`,
      )
    }
  })
}

/** The file being written: its ParquetWriter plus the rows of the row group not yet written. */
class FileEncoder {
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
  readonly #buffers: PieceBuffers | undefined
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
    buffers: PieceBuffers | undefined,
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

/**
 * sha256 (hex) of a canonical description of the columns: name, Postgres type, kind, DECIMAL
 * precision/scale, array element kind and nullability, in column order.
 */
export function schemaHash(columns: readonly ColumnSpec[]): string {
  const canonical = columns.map((c) => [
    c.name,
    c.pgType,
    c.kind,
    c.element ?? null,
    c.precision ?? null,
    c.scale ?? null,
    c.notNull,
  ])
  return createHash("sha256").update(JSON.stringify(["parquet_compact.schema.v1", canonical])).digest("hex")
}

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
import { ByteWriter, ParquetWriter } from "hyparquet-writer"
import type { ColumnChunk, SchemaElement } from "hyparquet"
import { CompactError } from "../errors.ts"
import { ByteColumn, type ColumnBatch, type ColumnValues } from "../pg/batch.ts"
import type { ColumnSpec } from "../pg/schema.ts"
import { CREATED_BY } from "../version.ts"
import { writeColumnChunk } from "./chunk.ts"
import { type LeafType, leafType, toLeaf } from "./leaf.ts"
import { PackedList } from "./packed.ts"
import { parquetSchema, type UuidAs } from "./schema.ts"

/** One finished Parquet file. */
export interface EncodedFile {
  /** 0-based, consecutive within one encodeParquetFiles() call. */
  part: number
  bytes: Uint8Array
  rows: number
  /** Smallest and largest value of the block column in this file (inclusive). */
  minBlock: bigint
  maxBlock: bigint
}

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
 * caller may reuse them then).
 */
export async function* encodeParquetFiles(
  batches: AsyncIterable<ColumnBatch>,
  opts: EncodeOptions,
  done: (batch: ColumnBatch) => void = () => {},
): AsyncGenerator<EncodedFile> {
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
  const file = new FileEncoder(opts, blockIndex, done)
  for await (const batch of batches) {
    checkBatch(batch, columns)
    let offset = 0
    while (offset < batch.rows) {
      const take = Math.min(batch.rows - offset, file.roomInGroup())
      file.add(batch, offset, offset + take)
      offset += take
      if (file.roomInGroup() === 0) file.writeGroup()
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

interface Segment {
  batch: ColumnBatch
  start: number
  end: number // exclusive
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
  #sizeHint = 1 << 20
  #writer: ByteWriter | undefined
  #parquet: ParquetWriter | undefined
  #plain: boolean[] = []
  #segments: Segment[] = []
  /** Rows already written as row groups of the current file. */
  rows = 0
  /** Rows waiting in #segments for the next row group. */
  groupRows = 0
  #minBlock = 0n
  #maxBlock = 0n
  /** Gets each batch whose rows are all written (see encodeParquetFiles()). */
  readonly #done: (batch: ColumnBatch) => void

  constructor(opts: EncodeOptions, blockIndex: number, done: (batch: ColumnBatch) => void) {
    this.#done = done
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

  /** Writes the pending rows as one row group. */
  writeGroup(): void {
    if (this.groupRows === 0) return
    if (this.#parquet === undefined) {
      this.#writer = new BlockWriter(this.#sizeHint)
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
      const values = concatColumn(this.#segments, j, this.groupRows)
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

  /** Closes the current file and returns it; the next rows start part + 1. */
  finish(): EncodedFile {
    const parquet = this.#parquet
    const writer = this.#writer
    if (parquet === undefined || writer === undefined) throw new Error("finish() without rows")
    void parquet.finish()
    const bytes = writer.getBytes()
    this.#sizeHint = Math.max(1 << 16, Math.ceil(bytes.length * 1.1))
    const file: EncodedFile = {
      part: this.#part++,
      bytes,
      rows: this.rows,
      minBlock: this.#minBlock,
      maxBlock: this.#maxBlock,
    }
    this.#parquet = undefined
    this.#writer = undefined
    this.rows = 0
    return file
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Bytes of each further block of a BlockWriter. */
const BLOCK_BYTES = 1 << 23

/**
 * A ByteWriter that grows by adding blocks (the first as big as the size hint, the next ones 8 MiB)
 * instead of doubling and copying, and joins them once at the end: a file's bytes are allocated
 * about twice (blocks, then the joined copy) rather than up to three times (doubling copies, then a
 * trimmed copy), and a file within the hint (1.1 × the previous one) is not copied at all.
 * ParquetWriter and chunk.ts only append and read `offset`, as with hyparquet-writer's own
 * node.js fileWriter.
 */
class BlockWriter extends ByteWriter {
  readonly #blocks: Uint8Array<ArrayBuffer>[] = []

  override ensure(size: number): void {
    if (this.index + size <= this.buffer.byteLength) return
    this.#blocks.push(new Uint8Array(this.buffer, 0, this.index))
    this.buffer = new ArrayBuffer(Math.max(size, BLOCK_BYTES))
    this.view = new DataView(this.buffer)
    this.index = 0
  }

  override getBytes(): Uint8Array<ArrayBuffer> {
    const last = new Uint8Array(this.buffer, 0, this.index)
    if (this.#blocks.length === 0) return last
    const out = new Uint8Array(this.offset)
    let o = 0
    for (const block of [...this.#blocks, last]) {
      out.set(block, o)
      o += block.length
    }
    return out
  }
}

/** Inclusive min and max of an integer column over [start, end); INTEGRITY on NULL. */
function blockRange(values: ColumnValues, start: number, end: number, name: string): [bigint, bigint] {
  if (values instanceof ByteColumn) {
    throw new CompactError("INTEGRITY", `Cannot encode block column "${name}": it holds bytes`)
  }
  if (values instanceof BigInt64Array && LITTLE_ENDIAN && values.byteOffset % 4 === 0 && end > start) {
    // by 32-bit words (high signed, low unsigned): no BigInt per row
    const words = new Int32Array(values.buffer, values.byteOffset, values.length * 2)
    const low = new Uint32Array(values.buffer, values.byteOffset, values.length * 2)
    const less = (a: number, b: number) =>
      words[2 * a + 1]! < words[2 * b + 1]! ||
      (words[2 * a + 1] === words[2 * b + 1] && low[2 * a]! < low[2 * b]!)
    let lo = start
    let hi = start
    for (let i = start + 1; i < end; i++) {
      if (less(i, lo)) lo = i
      if (less(hi, i)) hi = i
    }
    return [values[lo]!, values[hi]!]
  }
  let min: bigint | number | undefined
  let max: bigint | number | undefined
  for (let i = start; i < end; i++) {
    const v = values[i]
    if (typeof v !== "bigint" && typeof v !== "number") {
      throw new CompactError("INTEGRITY", `Cannot encode a row with NULL in block column "${name}"`)
    }
    if (min === undefined || v < min) min = v
    if (max === undefined || v > max) max = v
  }
  return [BigInt(min ?? 0), BigInt(max ?? 0)]
}

/** Column j of the segments as one array of `rows` values (no copy for a whole single batch). */
function concatColumn(segments: Segment[], j: number, rows: number): ColumnValues | PackedList {
  const first = segments[0]!
  const v0 = first.batch.columns[j]! as ColumnValues | PackedList
  if (v0 instanceof PackedList) { // LIST columns packed for the encoder thread (packed.ts)
    const parts = segments.map(({ batch, start, end }) => {
      const v = batch.columns[j] as unknown as PackedList
      return start === 0 && end === v.length ? v : v.slice(start, end)
    })
    return parts.length === 1 ? parts[0]! : PackedList.concat(parts)
  }
  if (segments.length === 1) {
    if (first.start === 0 && first.end === v0.length) return v0
    return Array.isArray(v0)
      ? v0.slice(first.start, first.end)
      : v0 instanceof ByteColumn
      ? v0.slice(first.start, first.end)
      : v0.subarray(first.start, first.end)
  }
  const parts = segments.map(({ batch, start, end }) => ({ v: batch.columns[j]!, start, end }))
  if (parts.every((p) => p.v instanceof ByteColumn)) {
    return concatBytes(parts.map((p) => (p.v as ByteColumn).slice(p.start, p.end)), rows)
  }
  const sameTyped = !Array.isArray(v0) && !(v0 instanceof ByteColumn) &&
    parts.every((p) => p.v.constructor === v0.constructor)
  if (sameTyped) {
    type Typed = Int32Array | BigInt64Array | Float32Array | Float64Array
    const out = new (v0.constructor as new (n: number) => Typed)(rows)
    let o = 0
    for (const { v, start, end } of parts) {
      out.set((v as Typed).subarray(start, end) as never, o)
      o += end - start
    }
    return out
  }
  const out: unknown[] = []
  for (const { v, start, end } of parts) {
    const values = v instanceof ByteColumn ? v.toArray() : v as ArrayLike<unknown>
    for (let i = start; i < end; i++) out.push(values[i])
  }
  return out as ColumnValues
}

/** ByteColumns one after the other, copied into one. */
function concatBytes(parts: ByteColumn[], rows: number): ByteColumn {
  let size = 0
  for (const p of parts) size += p.offsets[p.length]! - p.offsets[0]!
  const bytes = new Uint8Array(size)
  const offsets = new Int32Array(rows + 1)
  const nulls = parts.some((p) => p.nulls) ? new Uint8Array(rows) : undefined
  let r = 0
  let o = 0
  for (const p of parts) {
    const from = p.offsets[0]!
    const to = p.offsets[p.length]!
    bytes.set(p.bytes.subarray(from, to), o)
    for (let i = 1; i <= p.length; i++) offsets[r + i] = p.offsets[i]! - from + o
    if (p.nulls) nulls!.set(p.nulls, r)
    r += p.length
    o += to - from
  }
  return new ByteColumn(bytes, offsets, nulls)
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

/**
 * Column batches → snappy Parquet files of at most chunkSize rows, in row groups of exactly
 * rowGroupSize rows (the last group of a file may be shorter). Output is a pure function of
 * the rows and options: same rows, same bytes.
 *
 * Dictionary rule (per file, per column): hyparquet-writer decides for each row group (it samples
 * 1000 values, then keeps a dictionary only if it at least halves the plain bytes) until a row
 * group of the column comes out without one; the column is then written PLAIN for the rest of the
 * file. So hashes and log data pay for one dictionary attempt per file while addresses, topic0
 * and small integers keep theirs. Decisions never cross files, which keeps output deterministic.
 */
import { createHash } from "node:crypto"
import { ByteWriter, type ColumnSource, ParquetWriter } from "hyparquet-writer"
import type { SchemaElement } from "hyparquet"
import { compress as snappyCompress } from "snappyjs"
import { CompactError } from "../errors.ts"
import type { ColumnBatch, ColumnValues } from "../pg/copy.ts"
import type { ColumnSpec } from "../pg/schema.ts"
import { parquetSchema, writeSchema } from "./schema.ts"

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
  /** Footer created_by; keep it stable for byte-identical output. */
  createdBy: string
}

const compressors = { SNAPPY: (input: Uint8Array): Uint8Array => snappyCompress(input) }

/** Encodes batches into Parquet files, splitting exactly every chunkSize rows. */
export async function* encodeParquetFiles(
  batches: AsyncIterable<ColumnBatch>,
  opts: EncodeOptions,
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
  const file = new FileEncoder(opts, blockIndex)
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
  readonly #writeSchema: SchemaElement[]
  readonly #blockIndex: number
  readonly #boolean: boolean[] // leaf is BOOLEAN: hyparquet picks RLE itself, never force PLAIN
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

  constructor(opts: EncodeOptions, blockIndex: number) {
    this.#opts = opts
    this.#schema = parquetSchema(opts.columns)
    this.#writeSchema = writeSchema(this.#schema)
    this.#blockIndex = blockIndex
    const leaves = this.#schema.filter((e) => e.type !== undefined)
    this.#boolean = leaves.map((e) => e.type === "BOOLEAN")
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
      this.#writer = new ByteWriter(this.#sizeHint)
      this.#parquet = new ParquetWriter({
        writer: this.#writer,
        schema: this.#writeSchema,
        codec: "SNAPPY",
        compressors,
        statistics: true,
        kvMetadata: this.#opts.kvMetadata,
        createdBy: this.#opts.createdBy,
      })
      this.#plain = this.#boolean.map(() => false)
    }
    const parquet = this.#parquet
    const columnData: ColumnSource[] = this.#opts.columns.map((c, j) => {
      const source: ColumnSource = { name: c.name, data: concatColumn(this.#segments, j, this.groupRows) }
      if (this.#plain[j]) source.encoding = "PLAIN"
      return source
    })
    // rowGroupSize = all rows given: exactly one row group per call (ByteWriter has no async flush)
    void parquet.write({ columnData, rowGroupSize: this.groupRows })
    const written = parquet.row_groups.at(-1)?.columns ?? []
    written.forEach((chunk, j) => {
      if (!this.#boolean[j] && !chunk.meta_data?.encodings.includes("RLE_DICTIONARY")) this.#plain[j] = true
    })
    this.rows += this.groupRows
    this.groupRows = 0
    this.#segments = []
  }

  /** Closes the current file and returns it; the next rows start part + 1. */
  finish(): EncodedFile {
    const parquet = this.#parquet
    const writer = this.#writer
    if (parquet === undefined || writer === undefined) throw new Error("finish() without rows")
    parquet.schema = this.#schema // the footer gets the full annotations (JSON converted type)
    void parquet.finish()
    const view = writer.getBytes()
    // Keep the bytes, not the doubling buffer's slack
    const bytes = view.buffer.byteLength - view.length > view.length / 8 ? view.slice() : view
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

/** Inclusive min and max of an integer column over [start, end); INTEGRITY on NULL. */
function blockRange(values: ColumnValues, start: number, end: number, name: string): [bigint, bigint] {
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
function concatColumn(segments: Segment[], j: number, rows: number): ColumnValues {
  const first = segments[0]!
  const v0 = first.batch.columns[j]!
  if (segments.length === 1) {
    if (first.start === 0 && first.end === v0.length) return v0
    return Array.isArray(v0) ? v0.slice(first.start, first.end) : v0.subarray(first.start, first.end)
  }
  const sameTyped = !Array.isArray(v0) &&
    segments.every((s) => s.batch.columns[j]!.constructor === v0.constructor)
  if (sameTyped) {
    type Typed = Int32Array | BigInt64Array | Float32Array | Float64Array
    const out = new (v0.constructor as new (n: number) => Typed)(rows)
    let o = 0
    for (const { batch, start, end } of segments) {
      const v = batch.columns[j] as Typed
      out.set(v.subarray(start, end) as never, o)
      o += end - start
    }
    return out
  }
  const out: unknown[] = []
  for (const { batch, start, end } of segments) {
    const v = batch.columns[j] as unknown[]
    for (let i = start; i < end; i++) out.push(v[i])
  }
  return out as ColumnValues
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

/**
 * The row-level helpers of encode.ts: the pending rows of a row group as segments of batches and
 * their concatenation per column, the block column's range, and the growable file buffer.
 */
import { ByteWriter } from "hyparquet-writer"
import { CompactError } from "../errors.ts"
import { ByteColumn, type ColumnBatch, type ColumnValues } from "../pg/batch.ts"
import { PackedList } from "./packed.ts"

/** Rows [start, end) of a batch waiting for the row group being assembled. */
export interface Segment {
  batch: ColumnBatch
  start: number
  end: number // exclusive
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
export class BlockWriter extends ByteWriter {
  readonly #blocks: Uint8Array<ArrayBuffer>[] = []

  override ensure(size: number): void {
    if (this.index + size <= this.buffer.byteLength) return
    this.#blocks.push(new Uint8Array(this.buffer, 0, this.index))
    this.buffer = new ArrayBuffer(Math.max(size, BLOCK_BYTES))
    this.view = new DataView(this.buffer)
    this.index = 0
  }

  /**
   * Makes the current block hold `total` bytes in all, moving what is written into it when the
   * blocks so far are smaller: one block means no joining copy at the end. Large ArrayBuffers are
   * committed page by page as they are written, so reserving more than the file needs costs address
   * space, not memory.
   */
  reserve(total: number): void {
    if (total <= this.offset + (this.buffer.byteLength - this.index)) return
    const next = new Uint8Array(new ArrayBuffer(total))
    let o = 0
    for (const block of [...this.#blocks, new Uint8Array(this.buffer, 0, this.index)]) {
      next.set(block, o)
      o += block.length
    }
    this.#blocks.length = 0
    this.buffer = next.buffer
    this.view = new DataView(this.buffer)
    this.index = o
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
export function blockRange(values: ColumnValues, start: number, end: number, name: string): [bigint, bigint] {
  if (values instanceof ByteColumn || values instanceof PackedList) {
    throw new CompactError("INTEGRITY", `Cannot encode block column "${name}": it holds bytes or lists`)
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
export function concatColumn(segments: Segment[], j: number, rows: number): ColumnValues | PackedList {
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

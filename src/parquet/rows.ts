/**
 * The row-level helpers of encode.ts: the pending rows of a row group as segments of batches and
 * their concatenation per column, and the block column's range and tally.
 */
import { CompactError } from "../errors.ts"
import type { BlockTally } from "../core/blocktally.ts"
import { ByteColumn, type ColumnBatch, type ColumnValues } from "../pg/batch.ts"
import { PackedList } from "./packed.ts"

/** Rows [start, end) of a batch waiting for the row group being assembled. */
export interface Segment {
  batch: ColumnBatch
  start: number
  end: number // exclusive
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

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

/**
 * ByteColumns one after the other, copied into one, in buffers from `alloc` (slot 0: bytes, 1:
 * offsets, 2: nulls; they may be reused, not zeroed) or fresh ones.
 */
export function concatBytes(
  parts: ByteColumn[],
  rows: number,
  alloc: (slot: number, bytes: number) => ArrayBuffer = (_, bytes) => new ArrayBuffer(bytes),
): ByteColumn {
  let size = 0
  for (const p of parts) size += p.offsets[p.length]! - p.offsets[0]!
  const bytes = new Uint8Array(alloc(0, size), 0, size)
  const offsets = new Int32Array(alloc(1, 4 * (rows + 1)), 0, rows + 1)
  const nulls = parts.some((p) => p.nulls) ? new Uint8Array(alloc(2, rows), 0, rows).fill(0) : undefined
  offsets[0] = 0
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

/** Feeds rows [0, rows) of a block column to `tally`: int8 by 32-bit words, no BigInt per row. */
export function tallyBlocks(values: ColumnValues, rows: number, tally: BlockTally): void {
  if (values instanceof BigInt64Array && LITTLE_ENDIAN && values.byteOffset % 4 === 0) {
    const words = new Int32Array(values.buffer, values.byteOffset, rows * 2)
    for (let i = 0; i < rows; i++) tally.see(words[2 * i + 1]! * 4294967296 + (words[2 * i]! >>> 0))
    return
  }
  if (values instanceof ByteColumn || values instanceof PackedList) {
    tally.see(NaN) // not integers: no answer
    return
  }
  for (let i = 0; i < rows; i++) {
    const v = values[i]
    tally.see(typeof v === "bigint" || typeof v === "number" ? Number(v) : NaN)
  }
}

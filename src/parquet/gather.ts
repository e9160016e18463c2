/**
 * A row group's column gathered from the several batches its rows arrived in, into scratch buffers
 * reused from one column and row group to the next. Batches smaller than a row group keep fewer
 * rows decoded ahead of the encoder (write.ts); gathering into fresh arrays instead cost ~0.6 s of
 * system time per 5,000,000 log rows (the kernel faulting in and zeroing new pages every row group).
 */
import { ByteColumn, type ColumnValues } from "../pg/batch.ts"
import type { PackedList } from "./packed.ts"
import { concatBytes, concatColumn, type Segment } from "./rows.ts"

type Typed = Int32Array | BigInt64Array | Float32Array | Float64Array
type TypedConstructor = new (buffer: ArrayBuffer, offset: number, length: number) => Typed

/**
 * Gathers columns of segments. A gathered column is valid until the next call of column(): the
 * caller must be done with it by then (FileEncoder writes a column's chunk, which copies what it
 * keeps, before it gathers the next column).
 */
export class Gatherer {
  /** Scratch: typed values or bytes, offsets, nulls. */
  readonly #scratch: ArrayBuffer[] = [new ArrayBuffer(0), new ArrayBuffer(0), new ArrayBuffer(0)]

  #take(slot: number, bytes: number): ArrayBuffer {
    if (this.#scratch[slot]!.byteLength < bytes) {
      this.#scratch[slot] = new ArrayBuffer(Math.ceil(bytes * 1.25))
    }
    return this.#scratch[slot]!
  }

  /** Column j of the segments as one array of `rows` values (what concatColumn() returns). */
  column(segments: Segment[], j: number, rows: number): ColumnValues | PackedList {
    const v0 = segments[0]!.batch.columns[j]!
    if (segments.length === 1) return concatColumn(segments, j, rows)
    const parts = segments.map(({ batch, start, end }) => ({ v: batch.columns[j]!, start, end }))
    if (parts.every((p) => p.v instanceof ByteColumn)) {
      return concatBytes(
        parts.map((p) => (p.v as ByteColumn).slice(p.start, p.end)),
        rows,
        (slot, bytes) => this.#take(slot, bytes),
      )
    }
    const typed = v0 instanceof Int32Array || v0 instanceof BigInt64Array || v0 instanceof Float32Array ||
      v0 instanceof Float64Array
    if (!typed || !parts.every((p) => p.v.constructor === v0.constructor)) {
      return concatColumn(segments, j, rows)
    }
    const Kind = v0.constructor as TypedConstructor
    const out = new Kind(this.#take(0, rows * v0.BYTES_PER_ELEMENT), 0, rows)
    let o = 0
    for (const { v, start, end } of parts) {
      out.set((v as Typed).subarray(start, end) as never, o)
      o += end - start
    }
    return out
  }
}

/**
 * Column batches built row by row from binary COPY fields, in the form hyparquet-writer takes
 * for the schema of parquetSchema().
 */
import type { ColumnSpec } from "./schema.ts"
import {
  Arena,
  dateDays,
  decodeValue,
  EMPTY_BYTES,
  EPOCH_HI,
  EPOCH_LO,
  fieldError,
  FIXED_LENGTH,
  OP_BOOL,
  OP_BYTES,
  OP_DATE,
  OP_FLOAT4,
  OP_FLOAT8,
  OP_INT2,
  OP_INT4,
  OP_INT8,
  OP_TS,
  OP_UUID,
  opOf,
  type ScalarValue,
  timestampError,
  timestampMicros,
} from "./values.ts"

/**
 * One column of a batch. NOT NULL int2/int4/date → Int32Array (date: days since 1970),
 * int8/timestamp/timestamptz → BigInt64Array (timestamps: µs since 1970), float4 → Float32Array,
 * float8 → Float64Array; the same kinds when nullable → arrays of number/bigint or null.
 * bool → boolean[]; numeric_decimal → unscaled bigint[]; bytea, text, json, jsonb (version byte
 * stripped), uuid (16 bytes) and numeric_string (ASCII of numeric::text) → Uint8Array[];
 * arrays → per row null or an array of element values (null elements allowed).
 */
export type ColumnValues =
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array
  | (number | null)[]
  | (bigint | null)[]
  | (boolean | null)[]
  | (Uint8Array | null)[]
  | ((ScalarValue | null)[] | null)[]

/** Up to batchRows decoded rows, one ColumnValues per column (same order as the ColumnSpec[]). */
export interface ColumnBatch {
  rows: number
  columns: ColumnValues[]
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Builds batches of at most batchRows rows; byte values are views into the rows' buffers. */
export class BatchBuilder {
  readonly #columns: readonly ColumnSpec[]
  readonly #ops: Int32Array
  readonly #batchRows: number
  readonly #arena: Arena
  #out: ColumnValues[] = []
  #out32: (Int32Array | undefined)[] = [] // Int32 views over BigInt64Array outputs (little-endian hosts)
  #rows = 0

  constructor(columns: readonly ColumnSpec[], batchRows: number, arena: Arena) {
    this.#columns = columns
    this.#ops = Int32Array.from(columns, (c) => opOf(c.kind))
    this.#batchRows = batchRows
    this.#arena = arena
    this.#newBatch()
  }

  /**
   * Decodes one row whose fields start at fieldStart[c] with length fieldLen[c] (-1 = NULL) in buf.
   * Returns the batch when this row filled it. The hot loop: common kinds inline, the rest through
   * decodeValue().
   */
  addRow(
    buf: Uint8Array,
    dv: DataView,
    fieldStart: Int32Array,
    fieldLen: Int32Array,
  ): ColumnBatch | undefined {
    const r = this.#rows
    const ops = this.#ops
    const out = this.#out
    const out32 = this.#out32
    const ab = buf.buffer // read once per row: the getters cost more than the views in Bun
    const base = buf.byteOffset
    for (let c = 0; c < ops.length; c++) {
      const p = fieldStart[c]!
      const len = fieldLen[c]!
      const op = ops[c]!
      if (len === -1) {
        if (this.#columns[c]!.notNull) throw fieldError(this.#columns[c], "got NULL in a NOT NULL column")
        ;(out[c] as unknown[])[r] = null
        continue
      }
      const fixed = FIXED_LENGTH[op]!
      if (fixed !== 0 && len !== fixed) {
        throw fieldError(this.#columns[c], `got a ${len}-byte value, expected ${fixed}`)
      }
      switch (op) {
        case OP_INT2:
          ;(out[c] as number[])[r] = dv.getInt16(p)
          break
        case OP_INT4:
          ;(out[c] as number[])[r] = dv.getInt32(p)
          break
        case OP_INT8: {
          const o32 = out32[c]
          if (o32 !== undefined) { // no BigInt allocated: swap the halves into the BigInt64Array
            o32[2 * r] = dv.getInt32(p + 4)
            o32[2 * r + 1] = dv.getInt32(p)
          } else {
            ;(out[c] as bigint[])[r] = dv.getBigInt64(p)
          }
          break
        }
        case OP_TS: {
          const o32 = out32[c]
          if (o32 !== undefined) { // 64-bit addition of the epoch shift in two 32-bit halves
            const hi = dv.getInt32(p)
            const lo = dv.getUint32(p + 4)
            let nlo = lo + EPOCH_LO
            let nhi = hi + EPOCH_HI
            if (nlo >= 4294967296) {
              nlo -= 4294967296
              nhi++
            }
            if (
              nhi > 0x7fffffff || (hi === 0x7fffffff && lo === 0xffffffff) || (hi === -0x80000000 && lo === 0)
            ) {
              throw timestampError(this.#columns[c], hi, lo)
            }
            o32[2 * r] = nlo | 0
            o32[2 * r + 1] = nhi
          } else {
            ;(out[c] as bigint[])[r] = timestampMicros(this.#columns[c], dv, p)
          }
          break
        }
        case OP_DATE:
          ;(out[c] as number[])[r] = dateDays(this.#columns[c], dv.getInt32(p))
          break
        case OP_FLOAT4:
          ;(out[c] as number[])[r] = dv.getFloat32(p)
          break
        case OP_FLOAT8:
          ;(out[c] as number[])[r] = dv.getFloat64(p)
          break
        case OP_BOOL:
          ;(out[c] as boolean[])[r] = buf[p] !== 0
          break
        case OP_BYTES:
        case OP_UUID:
          ;(out[c] as Uint8Array[])[r] = len === 0 ? EMPTY_BYTES : new Uint8Array(ab, base + p, len)
          break
        default:
          ;(out[c] as unknown[])[r] = decodeValue(this.#columns[c]!, op, this.#arena, buf, dv, p, len)
      }
    }
    return ++this.#rows === this.#batchRows ? this.finish() : undefined
  }

  #newBatch(): void {
    const n = this.#batchRows
    this.#rows = 0
    this.#out = []
    this.#out32 = []
    for (let c = 0; c < this.#columns.length; c++) {
      let values: ColumnValues = []
      let o32: Int32Array | undefined
      if (this.#columns[c]!.notNull) {
        const op = this.#ops[c]!
        if (op === OP_INT2 || op === OP_INT4 || op === OP_DATE) values = new Int32Array(n)
        else if (op === OP_FLOAT4) values = new Float32Array(n)
        else if (op === OP_FLOAT8) values = new Float64Array(n)
        else if (op === OP_INT8 || op === OP_TS) {
          values = new BigInt64Array(n)
          if (LITTLE_ENDIAN) o32 = new Int32Array(values.buffer)
        }
      }
      this.#out.push(values)
      this.#out32.push(o32)
    }
  }

  /** The rows so far as a batch (undefined when none); the next row starts a new batch. */
  finish(): ColumnBatch | undefined {
    const rows = this.#rows
    if (rows === 0) return undefined
    const full = rows === this.#batchRows
    const columns = this.#out.map((v) => full || Array.isArray(v) ? v : v.subarray(0, rows))
    this.#newBatch()
    return { rows, columns }
  }
}

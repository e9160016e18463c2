/**
 * Column batches built row by row from binary COPY fields, in the form hyparquet-writer takes
 * for the schema of parquetSchema().
 */
import type { BufferPool } from "../buffer-pool.ts"
import type { PackedList } from "../columns.ts"
import { ListBuilder, packsList } from "./lists.ts"
import type { ColumnSpec } from "./schema.ts"
import { numericTextLength, writeNumericText } from "./numeric.ts"
import {
  Arena,
  dateDays,
  decodeValue,
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
  OP_JSONB,
  OP_NUMSTR,
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
 * stripped), uuid (16 bytes) and numeric_string (ASCII of numeric::text) → ByteColumn from the
 * decoder (the encoder also takes (Uint8Array | null)[]); arrays → PackedList (levels and PLAIN
 * element values, see src/pg/lists.ts), except arrays of numeric_decimal: per row null or an array
 * of element values (null elements allowed).
 */
export type ColumnValues =
  | ByteColumn
  | PackedList
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

/**
 * The byte values of one column of a batch, packed: value i is bytes[offsets[i], offsets[i + 1]),
 * or NULL where nulls[i] is 1 (then empty). One buffer per column rather than one Uint8Array per
 * value: a 100k-row batch of logs would otherwise hold ~600k small objects, which JavaScriptCore
 * frees late (peak RSS went past 1 GB), and the Parquet writer copies the bytes in bulk.
 */
export class ByteColumn {
  /** The values' bytes; offsets index into it. */
  readonly bytes: Uint8Array
  /** length + 1 ascending positions in bytes. */
  readonly offsets: Int32Array
  /** 1 for NULL, per row; undefined when no row is NULL. */
  readonly nulls: Uint8Array | undefined

  constructor(bytes: Uint8Array, offsets: Int32Array, nulls: Uint8Array | undefined) {
    this.bytes = bytes
    this.offsets = offsets
    this.nulls = nulls
  }

  /** Rows. */
  get length(): number {
    return this.offsets.length - 1
  }

  /** Value i as a view of bytes, or null. */
  at(i: number): Uint8Array | null {
    if (this.nulls?.[i]) return null
    return this.bytes.subarray(this.offsets[i]!, this.offsets[i + 1]!)
  }

  /** Rows [start, end) sharing this column's buffers. */
  slice(start = 0, end = this.length): ByteColumn {
    const s = Math.max(0, Math.min(start, this.length))
    const e = Math.max(s, Math.min(end, this.length))
    return new ByteColumn(this.bytes, this.offsets.subarray(s, e + 1), this.nulls?.subarray(s, e))
  }

  /** One view or null per row. */
  toArray(): (Uint8Array | null)[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i))
  }

  /** Packs values (copied) into a ByteColumn. */
  static from(values: readonly (Uint8Array | null)[]): ByteColumn {
    const offsets = new Int32Array(values.length + 1)
    let size = 0
    values.forEach((v, i) => offsets[i + 1] = size += v?.length ?? 0)
    const bytes = new Uint8Array(size)
    values.forEach((v, i) => v && bytes.set(v, offsets[i]!))
    const nulls = values.includes(null) ? Uint8Array.from(values, (v) => (v === null ? 1 : 0)) : undefined
    return new ByteColumn(bytes, offsets, nulls)
  }
}

/** How decodeCopyBinary() cuts and allocates batches. */
export interface BatchOptions {
  /**
   * A batch also ends after every restartEvery rows of the stream: batches of rowGroupSize rows
   * are then exactly the row groups of files of restartEvery (chunk size) rows.
   */
  restartEvery?: number
  /** Where batch buffers come from; their typed arrays and ByteColumns may then sit in larger buffers. */
  pool?: BufferPool
}

/**
 * Copies src[from, from + len) to dst[at]. Below 256 bytes four bytes at a time through DataViews:
 * in JavaScriptCore that is ~1.7× a byte loop, and subarray() + set() costs a view object and a
 * call that only pays off for longer values (measured on 20..512-byte values).
 */
export function copyBytes(
  src: Uint8Array,
  srcView: DataView,
  from: number,
  dst: Uint8Array,
  dstView: DataView,
  at: number,
  len: number,
): void {
  if (len >= 256) {
    dst.set(src.subarray(from, from + len), at)
    return
  }
  let k = 0
  for (; k + 4 <= len; k += 4) dstView.setUint32(at + k, srcView.getUint32(from + k))
  for (; k < len; k++) dst[at + k] = src[from + k]!
}

/** A ByteColumn being filled row by row. */
class ByteColumnBuilder {
  bytes: Uint8Array
  view: DataView
  pos = 0
  readonly offsets: Int32Array
  readonly nulls: Uint8Array | undefined
  hasNull = false

  readonly #alloc: (bytes: number) => ArrayBuffer

  constructor(rows: number, capacity: number, nullable: boolean, alloc: (bytes: number) => ArrayBuffer) {
    this.#alloc = alloc
    this.bytes = new Uint8Array(alloc(capacity))
    this.view = new DataView(this.bytes.buffer)
    this.offsets = new Int32Array(alloc(4 * (rows + 1)), 0, rows + 1)
    this.offsets[0] = 0
    this.nulls = nullable ? new Uint8Array(alloc(rows), 0, rows).fill(0) : undefined
  }

  /** Makes room for `len` more bytes at `pos`. */
  room(len: number): void {
    const need = this.pos + len
    if (need > this.bytes.length) {
      const grown = new Uint8Array(this.#alloc(Math.max(need, this.bytes.length * 2)))
      grown.set(this.bytes.subarray(0, this.pos))
      this.bytes = grown
      this.view = new DataView(grown.buffer)
    }
  }

  finish(rows: number): ByteColumn {
    // Keep the bytes, not a mostly empty buffer (the last batch of a stream is short)
    const used = this.bytes.subarray(0, this.pos)
    const bytes = this.bytes.length - this.pos > this.pos ? used.slice() : used
    const nulls = this.hasNull ? this.nulls!.subarray(0, rows) : undefined
    return new ByteColumn(bytes, this.offsets.subarray(0, rows + 1), nulls)
  }
}

/** Ops decoded into a ByteColumn when the column is not an array. */
function packsBytes(op: number): boolean {
  return op === OP_BYTES || op === OP_UUID || op === OP_JSONB || op === OP_NUMSTR
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * Builds batches of at most batchRows rows, ending one also after every restartEvery rows (see
 * decodeCopyBinary()).
 */
export class BatchBuilder {
  readonly #columns: readonly ColumnSpec[]
  readonly #ops: Int32Array
  readonly #batchRows: number
  readonly #restartEvery: number
  readonly #alloc: (bytes: number) => ArrayBuffer
  readonly #arena: Arena
  #out: ColumnValues[] = []
  #out32: (Int32Array | undefined)[] = [] // Int32 views over BigInt64Array outputs (little-endian hosts)
  #packed: (ByteColumnBuilder | undefined)[] = []
  #lists: (ListBuilder | undefined)[] = []
  /** Per column: the decoder packs it as a PackedList. */
  readonly #packsList: boolean[]
  /** Bytes per row of each byte column in the previous batch, to size the next one's buffer. */
  readonly #bytesPerRow: number[]
  #rows = 0
  #limit = 0 // rows the current batch takes
  #total = 0 // rows of all batches before the current one

  constructor(columns: readonly ColumnSpec[], batchRows: number, arena: Arena, options: BatchOptions = {}) {
    this.#columns = columns
    this.#ops = Int32Array.from(columns, (c) => opOf(c.kind))
    this.#batchRows = batchRows
    this.#restartEvery = options.restartEvery ?? 0
    const pool = options.pool
    this.#alloc = pool ? (bytes) => pool.take(bytes) : (bytes) => new ArrayBuffer(bytes)
    this.#arena = arena
    this.#bytesPerRow = columns.map(() => 0)
    this.#packsList = columns.map((c) => c.kind === "array" && packsList(c))
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
    const packed = this.#packed
    const lists = this.#lists
    for (let c = 0; c < ops.length; c++) {
      const p = fieldStart[c]!
      const len = fieldLen[c]!
      const op = ops[c]!
      const pack = packed[c]
      const list = lists[c]
      if (len === -1) {
        if (this.#columns[c]!.notNull) throw fieldError(this.#columns[c], "got NULL in a NOT NULL column")
        if (list !== undefined) list.addNull(r)
        else if (pack !== undefined) {
          pack.nulls![r] = 1
          pack.hasNull = true
          pack.offsets[r + 1] = pack.pos
        } else {
          ;(out[c] as unknown[])[r] = null
        }
        continue
      }
      const fixed = FIXED_LENGTH[op]!
      if (fixed !== 0 && len !== fixed) {
        throw fieldError(this.#columns[c], `got a ${len}-byte value, expected ${fixed}`)
      }
      if (list !== undefined) {
        list.add(r, buf, dv, p, len)
        continue
      }
      if (pack !== undefined) {
        this.#pack(pack, c, op, buf, dv, p, len)
        pack.offsets[r + 1] = pack.pos
        continue
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
        default:
          ;(out[c] as unknown[])[r] = decodeValue(this.#columns[c]!, op, this.#arena, buf, dv, p, len)
      }
    }
    return ++this.#rows === this.#limit ? this.finish() : undefined
  }

  /** Appends one non-NULL value of a byte column. */
  #pack(
    pack: ByteColumnBuilder,
    c: number,
    op: number,
    buf: Uint8Array,
    dv: DataView,
    p: number,
    len: number,
  ) {
    if (op === OP_NUMSTR) {
      const n = numericTextLength(dv, p, len, this.#columns[c]!.name)
      pack.room(n)
      writeNumericText(dv, p, pack.bytes, pack.pos)
      pack.pos += n
      return
    }
    if (op === OP_JSONB) {
      if (len < 1 || buf[p] !== 1) {
        throw fieldError(this.#columns[c], `got jsonb format version ${buf[p]}, expected 1`)
      }
      p++
      len--
    }
    pack.room(len)
    copyBytes(buf, dv, p, pack.bytes, pack.view, pack.pos, len)
    pack.pos += len
  }

  #newBatch(): void {
    const every = this.#restartEvery
    const n = every > 0 ? Math.min(this.#batchRows, every - this.#total % every) : this.#batchRows
    this.#limit = n
    this.#rows = 0
    this.#out = []
    this.#out32 = []
    this.#packed = []
    this.#lists = []
    for (let c = 0; c < this.#columns.length; c++) {
      let values: ColumnValues = []
      let o32: Int32Array | undefined
      const spec = this.#columns[c]!
      // 5% over the previous batch's bytes per row: most batches then never grow their buffer
      const capacity = Math.max(1 << 12, Math.ceil(this.#bytesPerRow[c]! * n * 1.05))
      this.#packed.push(
        packsBytes(this.#ops[c]!)
          ? new ByteColumnBuilder(n, capacity, !spec.notNull, this.#alloc)
          : undefined,
      )
      this.#lists.push(this.#packsList[c] ? new ListBuilder(spec, n, capacity, this.#alloc) : undefined)
      if (spec.notNull) { // every row is written: a reused buffer needs no zeroing
        const op = this.#ops[c]!
        if (op === OP_INT2 || op === OP_INT4 || op === OP_DATE) {
          values = new Int32Array(this.#alloc(4 * n), 0, n)
        } else if (op === OP_FLOAT4) values = new Float32Array(this.#alloc(4 * n), 0, n)
        else if (op === OP_FLOAT8) values = new Float64Array(this.#alloc(8 * n), 0, n)
        else if (op === OP_INT8 || op === OP_TS) {
          values = new BigInt64Array(this.#alloc(8 * n), 0, n)
          if (LITTLE_ENDIAN) o32 = new Int32Array(values.buffer, 0, 2 * n)
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
    const full = rows === this.#limit
    const columns = this.#out.map((v, c) => {
      const list = this.#lists[c]
      if (list !== undefined) {
        if (rows >= 1000) this.#bytesPerRow[c] = list.size / rows
        return list.finish(rows)
      }
      const pack = this.#packed[c]
      if (pack === undefined) return full || Array.isArray(v) ? v : (v as Int32Array).subarray(0, rows)
      if (rows >= 1000) this.#bytesPerRow[c] = pack.pos / rows
      return pack.finish(rows)
    })
    this.#total += rows
    this.#newBatch()
    return { rows, columns }
  }
}

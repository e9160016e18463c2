/**
 * Array columns decoded straight into PackedList form (src/columns.ts): definition and repetition
 * levels plus each element's PLAIN bytes, as the Parquet encoder's listLeaf() would build them from
 * per-row arrays, byte for byte. No JavaScript object per row or element: 1.5M `bytea[]` rows held
 * 1.1 GB as per-row arrays of views (and every COPY chunk had to be copied for the views to point
 * into). numeric_decimal elements are not packed here (their width depends on the Parquet schema):
 * they stay per-row arrays and the encoder thread packs them.
 */
import { type ListPhysical, PackedList } from "../columns.ts"
import { numericTextLength, writeNumericText } from "./numeric.ts"
import type { ColumnSpec } from "./schema.ts"
import {
  dateDays,
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
  OP_NUMDEC,
  OP_NUMSTR,
  OP_TS,
  OP_UUID,
  opOf,
  timestampMicros,
} from "./values.ts"

/** The physical form the builder writes for an element op; undefined: not packed by the decoder. */
export function listPhysical(op: number): ListPhysical | undefined {
  switch (op) {
    case OP_BOOL:
      return "BOOLEAN"
    case OP_INT2:
    case OP_INT4:
    case OP_DATE:
      return "INT32"
    case OP_INT8:
    case OP_TS:
      return "INT64"
    case OP_FLOAT4:
      return "FLOAT"
    case OP_FLOAT8:
      return "DOUBLE"
    case OP_BYTES:
    case OP_UUID:
    case OP_JSONB:
    case OP_NUMSTR:
      return "BYTES"
  }
  return undefined
}

/** Whether the decoder packs an array column itself. */
export function packsList(col: ColumnSpec): boolean {
  const op = opOf(col.element ?? "array")
  return op !== OP_NUMDEC && listPhysical(op) !== undefined
}

/** One batch's array column being filled row by row. */
export class ListBuilder {
  readonly #col: ColumnSpec
  readonly #op: number
  readonly #physical: ListPhysical
  readonly #base: number // def of an empty list; + 1: NULL element; + 2: a value
  readonly #alloc: (bytes: number) => ArrayBuffer
  readonly #rowSlots: Int32Array
  #def: Uint8Array
  #rep: Uint8Array
  #offsets: Int32Array
  #bytes: Uint8Array
  #view: DataView
  #slots = 0
  #pos = 0

  constructor(col: ColumnSpec, rows: number, capacity: number, alloc: (bytes: number) => ArrayBuffer) {
    this.#col = col
    this.#op = opOf(col.element!)
    this.#physical = listPhysical(this.#op)!
    this.#base = col.notNull ? 0 : 1
    this.#alloc = alloc
    this.#rowSlots = new Int32Array(alloc(4 * (rows + 1)), 0, rows + 1)
    const slots = Math.max(16, rows * 2)
    // exact lengths: pooled buffers may be larger, and def, rep and offsets must grow together
    this.#def = new Uint8Array(alloc(slots), 0, slots)
    this.#rep = new Uint8Array(alloc(slots), 0, slots)
    this.#offsets = new Int32Array(alloc(4 * (slots + 1)), 0, slots + 1)
    this.#offsets[0] = 0
    this.#bytes = new Uint8Array(alloc(capacity))
    this.#view = new DataView(this.#bytes.buffer)
  }

  /** Bytes of element values so far. */
  get size(): number {
    return this.#pos
  }

  /** Row r is NULL. */
  addNull(r: number): void {
    this.#rowSlots[r] = this.#slots
    this.#slot(0, 0)
  }

  /** Row r is the binary array (array_send) at buf[p, p + len); see decodeArray() for the checks. */
  add(r: number, buf: Uint8Array, dv: DataView, p: number, len: number): void {
    const col = this.#col
    this.#rowSlots[r] = this.#slots
    if (len < 12) throw fieldError(col, "malformed array")
    const ndim = dv.getInt32(p)
    if (ndim === 0) return this.#slot(this.#base, 0)
    if (ndim !== 1) throw fieldError(col, `got a ${ndim}-dimensional array; only one dimension is supported`)
    if (len < 20) throw fieldError(col, "malformed array")
    const count = dv.getInt32(p + 12)
    const lbound = dv.getInt32(p + 16)
    if (lbound !== 1) throw fieldError(col, `got an array with lower bound ${lbound}; only 1 is supported`)
    const op = this.#op
    const fixed = FIXED_LENGTH[op]!
    const end = p + len
    let q = p + 20
    for (let i = 0; i < count; i++) {
      if (q + 4 > end) throw fieldError(col, "malformed array")
      const elen = dv.getInt32(q)
      q += 4
      const rep = i === 0 ? 0 : 1
      if (elen === -1) {
        this.#slot(this.#base + 1, rep)
        continue
      }
      if (elen < 0 || q + elen > end) throw fieldError(col, "malformed array")
      if (fixed !== 0 && elen !== fixed) throw fieldError(col, `got a ${elen}-byte value, expected ${fixed}`)
      this.#put(op, buf, dv, q, elen)
      this.#slot(this.#base + 2, rep)
      q += elen
    }
    if (q !== end) throw fieldError(col, "malformed array")
    if (count === 0) this.#slot(this.#base, 0)
  }

  /** Ends a slot with definition level `def` (its value, if any, was put). */
  #slot(def: number, rep: number): void {
    const s = this.#slots
    if (s === this.#def.length) this.#growSlots()
    this.#def[s] = def
    this.#rep[s] = rep
    this.#offsets[s + 1] = this.#pos
    this.#slots = s + 1
  }

  #growSlots(): void {
    const n = this.#def.length * 2
    const def = new Uint8Array(this.#alloc(n), 0, n)
    def.set(this.#def)
    const rep = new Uint8Array(this.#alloc(n), 0, n)
    rep.set(this.#rep)
    const offsets = new Int32Array(this.#alloc(4 * (n + 1)), 0, n + 1)
    offsets.set(this.#offsets.subarray(0, this.#slots + 1))
    this.#def = def
    this.#rep = rep
    this.#offsets = offsets
  }

  #room(len: number): void {
    const need = this.#pos + len
    if (need <= this.#bytes.length) return
    const grown = new Uint8Array(this.#alloc(Math.max(need, this.#bytes.length * 2)))
    grown.set(this.#bytes.subarray(0, this.#pos))
    this.#bytes = grown
    this.#view = new DataView(grown.buffer)
  }

  /** Appends one element's PLAIN value. */
  #put(op: number, buf: Uint8Array, dv: DataView, q: number, len: number): void {
    const col = this.#col
    switch (op) {
      case OP_BOOL:
        this.#room(1)
        this.#bytes[this.#pos++] = buf[q] !== 0 ? 1 : 0
        return
      case OP_INT2:
      case OP_INT4:
      case OP_DATE: {
        const v = op === OP_INT2
          ? dv.getInt16(q)
          : op === OP_INT4
          ? dv.getInt32(q)
          : dateDays(col, dv.getInt32(q))
        this.#room(4)
        this.#view.setInt32(this.#pos, v, true)
        this.#pos += 4
        return
      }
      case OP_INT8:
        this.#room(8)
        this.#view.setInt32(this.#pos, dv.getInt32(q + 4), true)
        this.#view.setInt32(this.#pos + 4, dv.getInt32(q), true)
        this.#pos += 8
        return
      case OP_TS:
        this.#room(8)
        this.#view.setBigInt64(this.#pos, timestampMicros(col, dv, q), true)
        this.#pos += 8
        return
      case OP_FLOAT4:
        this.#room(4)
        this.#view.setFloat32(this.#pos, dv.getFloat32(q), true)
        this.#pos += 4
        return
      case OP_FLOAT8:
        this.#room(8)
        this.#view.setFloat64(this.#pos, dv.getFloat64(q), true)
        this.#pos += 8
        return
      case OP_NUMSTR: {
        const n = numericTextLength(dv, q, len, col.name)
        this.#room(n)
        writeNumericText(dv, q, this.#bytes, this.#pos)
        this.#pos += n
        return
      }
      case OP_JSONB:
        if (len < 1 || buf[q] !== 1) throw fieldError(col, `got jsonb format version ${buf[q]}, expected 1`)
        q++
        len--
    }
    this.#room(len)
    const at = this.#pos
    if (len >= 256) this.#bytes.set(buf.subarray(q, q + len), at)
    else { // four bytes at a time, as copyBytes() in batch.ts (hashes and topics are 20-32 bytes)
      const view = this.#view
      let k = 0
      for (; k + 4 <= len; k += 4) view.setUint32(at + k, dv.getUint32(q + k))
      for (; k < len; k++) this.#bytes[at + k] = buf[q + k]!
    }
    this.#pos = at + len
  }

  /** The rows so far (`rows` of them) as a PackedList. */
  finish(rows: number): PackedList {
    const s = this.#slots
    this.#rowSlots[rows] = s
    return new PackedList(
      {
        rows,
        slots: s,
        def: this.#def.subarray(0, s),
        rep: this.#rep.subarray(0, s),
        bytes: this.#bytes.subarray(0, this.#pos),
        offsets: this.#offsets.subarray(0, s + 1),
      },
      this.#rowSlots.subarray(0, rows + 1),
      this.#physical,
    )
  }
}

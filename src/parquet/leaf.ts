/**
 * A column of a row group as the page writer takes it: its Parquet leaf's level entries ("slots":
 * one per row of a flat column, one per element, empty list or NULL list of a LIST column), the
 * definition and repetition level of each, and each slot's value in PLAIN physical form packed in
 * one buffer (NULL slots hold zero bytes). Built from the decoder's ColumnValues in one pass, with
 * no copy where the decoder's memory already is the PLAIN form (ByteColumn, NOT NULL typed arrays
 * on a little-endian host).
 */
import type { Leaf } from "../columns.ts"
import { ByteColumn, type ColumnValues } from "../pg/batch.ts"
import type { ColumnKind, ColumnSpec } from "../pg/schema.ts"
import { decimalByteLength } from "./schema.ts"

export type { Leaf }

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** The physical form of a column's leaf. */
export interface LeafType {
  type: "BOOLEAN" | "INT32" | "INT64" | "FLOAT" | "DOUBLE" | "BYTE_ARRAY" | "FIXED_LEN_BYTE_ARRAY"
  /** Bytes per value; 0 for BYTE_ARRAY. BOOLEAN: 1 here, bit-packed on the page. */
  width: number
  /** Signed DECIMAL in big-endian bytes: statistics order values by number, not bytes. */
  decimalBytes: boolean
  /** The scalar kind of the leaf (the element kind of an array). */
  kind: ColumnKind
  /** A 3-level LIST column (repetition level 1). */
  list: boolean
  /** The column itself may be NULL. */
  optional: boolean
  /** Highest definition level. */
  maxDef: number
}

/** The leaf type of a column. */
export function leafType(c: ColumnSpec): LeafType {
  const list = c.kind === "array"
  const kind = list ? c.element! : c.kind
  const optional = !c.notNull
  const maxDef = list ? (optional ? 3 : 2) : optional ? 1 : 0
  const base = { kind, list, optional, maxDef, decimalBytes: false }
  switch (kind) {
    case "bool":
      return { ...base, type: "BOOLEAN", width: 1 }
    case "int2":
    case "int4":
    case "date":
      return { ...base, type: "INT32", width: 4 }
    case "int8":
    case "timestamp":
    case "timestamptz":
      return { ...base, type: "INT64", width: 8 }
    case "float4":
      return { ...base, type: "FLOAT", width: 4 }
    case "float8":
      return { ...base, type: "DOUBLE", width: 8 }
    case "numeric_decimal": {
      const p = c.precision ?? 38
      if (p <= 9) return { ...base, type: "INT32", width: 4 }
      if (p <= 18) return { ...base, type: "INT64", width: 8 }
      return { ...base, type: "FIXED_LEN_BYTE_ARRAY", width: decimalByteLength(p), decimalBytes: true }
    }
    case "uuid":
      return { ...base, type: "FIXED_LEN_BYTE_ARRAY", width: 16 }
    default:
      return { ...base, type: "BYTE_ARRAY", width: 0 }
  }
}

/** Values of one slot as the decoder gives them. */
type Scalar = number | bigint | boolean | Uint8Array | null | undefined

/** The column values of a row group as a Leaf. */
export function toLeaf(t: LeafType, values: ColumnValues): Leaf {
  const rows = values.length
  if (!t.list && values instanceof ByteColumn) {
    const def = t.optional ? definedFlags(values.nulls, rows) : undefined
    if (!t.optional && values.nulls?.includes(1)) throw new Error("parquet required value is undefined")
    checkWidth(t, values.offsets, def, t.maxDef)
    return { rows, slots: rows, def, rep: undefined, bytes: values.bytes, offsets: values.offsets }
  }
  if (!t.list && LITTLE_ENDIAN && ArrayBuffer.isView(values) && !(values instanceof ByteColumn)) {
    // NOT NULL typed arrays: their memory is the PLAIN encoding
    const typed = values as Int32Array | BigInt64Array | Float32Array | Float64Array
    if (typed.BYTES_PER_ELEMENT === t.width && !t.decimalBytes) {
      const offsets = new Int32Array(rows + 1)
      for (let i = 1; i <= rows; i++) offsets[i] = i * t.width
      const def = t.optional ? new Uint8Array(rows).fill(1) : undefined
      const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength)
      return { rows, slots: rows, def, rep: undefined, bytes, offsets }
    }
  }
  return t.list ? listLeaf(t, values as ArrayLike<unknown>) : flatLeaf(t, values as ArrayLike<unknown>)
}

function definedFlags(nulls: Uint8Array | undefined, rows: number): Uint8Array {
  const def = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) def[i] = nulls?.[i] ? 0 : 1
  return def
}

function checkWidth(t: LeafType, offsets: Int32Array, def: Uint8Array | undefined, maxDef: number): void {
  if (t.type !== "FIXED_LEN_BYTE_ARRAY") return
  for (let i = 0; i + 1 < offsets.length; i++) {
    if ((!def || def[i] === maxDef) && offsets[i + 1]! - offsets[i]! !== t.width) {
      throw new Error(`parquet expected Uint8Array of length ${t.width}`)
    }
  }
}

/** A flat column from an array of values (NULL as null). */
function flatLeaf(t: LeafType, values: ArrayLike<unknown>): Leaf {
  const rows = values.length
  const def = t.optional ? new Uint8Array(rows) : undefined
  const packer = new Packer(t, rows, () => {
    let size = 0
    for (let i = 0; i < rows; i++) size += valueSize(t, values[i] as Scalar)
    return size
  })
  for (let i = 0; i < rows; i++) {
    const v = values[i] as Scalar
    if (v === null || v === undefined) {
      if (!def) throw new Error("parquet required value is undefined")
    } else {
      if (def) def[i] = 1
      packer.put(v)
    }
    packer.end(i)
  }
  return { rows, slots: rows, def, rep: undefined, bytes: packer.bytes, offsets: packer.offsets }
}

/** A 3-level LIST column (OPTIONAL elements) from per-row arrays; `rowSlots` gets each row's first slot. */
export function listLeaf(t: LeafType, values: ArrayLike<unknown>, rowSlots?: Int32Array): Leaf {
  const rows = values.length
  let slots = 0
  let size = 0
  for (let r = 0; r < rows; r++) {
    const list = values[r] as Scalar[] | null | undefined
    if (!list || list.length === 0) slots++
    else {
      slots += list.length
      for (const v of list) size += valueSize(t, v)
    }
  }
  const def = new Uint8Array(slots)
  const rep = new Uint8Array(slots)
  const packer = new Packer(t, slots, () => size)
  const base = t.optional ? 1 : 0 // def of an empty list; + 1: NULL element; + 2: a value
  let s = 0
  for (let r = 0; r < rows; r++) {
    if (rowSlots) rowSlots[r] = s
    const list = values[r] as Scalar[] | null | undefined
    if (list === null || list === undefined) {
      if (!t.optional) throw new Error("parquet required value is undefined")
      packer.end(s++) // def 0, rep 0
    } else if (list.length === 0) {
      def[s] = base
      packer.end(s++)
    } else {
      for (let k = 0; k < list.length; k++) {
        const v = list[k]
        rep[s] = k === 0 ? 0 : 1
        if (v === null || v === undefined) def[s] = base + 1
        else {
          def[s] = base + 2
          packer.put(v)
        }
        packer.end(s++)
      }
    }
  }
  if (rowSlots) rowSlots[rows] = s
  return { rows, slots, def, rep, bytes: packer.bytes, offsets: packer.offsets }
}

function valueSize(t: LeafType, v: Scalar): number {
  if (v === null || v === undefined) return 0
  return t.width || (v as Uint8Array).length
}

/** Packs PLAIN physical values one slot at a time. */
class Packer {
  readonly bytes: Uint8Array
  readonly offsets: Int32Array
  readonly #view: DataView
  readonly #t: LeafType
  #pos = 0

  constructor(t: LeafType, slots: number, size: () => number) {
    this.#t = t
    this.bytes = new Uint8Array(t.width ? slots * t.width : size())
    this.#view = new DataView(this.bytes.buffer)
    this.offsets = new Int32Array(slots + 1)
  }

  put(v: NonNullable<Scalar>): void {
    const t = this.#t
    const view = this.#view
    const at = this.#pos
    switch (t.type) {
      case "BOOLEAN":
        this.bytes[at] = v ? 1 : 0
        break
      case "INT32":
        view.setInt32(at, Number(v), true) // DECIMAL(p ≤ 9) comes as an unscaled bigint
        break
      case "INT64":
        view.setBigInt64(at, BigInt(v as number | bigint), true)
        break
      case "FLOAT":
        view.setFloat32(at, v as number, true)
        break
      case "DOUBLE":
        view.setFloat64(at, v as number, true)
        break
      default:
        if (t.decimalBytes) putDecimal(this.bytes, at, t.width, v as bigint)
        else {
          const b = v as Uint8Array
          if (t.width && b.length !== t.width) {
            throw new Error(`parquet expected Uint8Array of length ${t.width}`)
          }
          this.bytes.set(b, at)
          this.#pos += b.length
          return
        }
    }
    this.#pos += t.width
  }

  /** Closes slot s (its value, if any, was put). */
  end(s: number): void {
    this.offsets[s + 1] = this.#pos
  }
}

/** An unscaled DECIMAL as `width` big-endian two's complement bytes. */
function putDecimal(bytes: Uint8Array, at: number, width: number, v: bigint): void {
  let x = BigInt.asUintN(width * 8, v)
  for (let k = width - 1; k >= 0; k--) {
    bytes[at + k] = Number(x & 0xffn)
    x >>= 8n
  }
}

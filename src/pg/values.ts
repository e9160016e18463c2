/**
 * Decoding of single binary COPY field values (big-endian, as each type's *_send writes them)
 * into the JS values hyparquet-writer takes. The hot loop in copy.ts inlines the common cases.
 */
import { CompactError } from "../errors.ts"
import { numericTextLength, numericToUnscaled, writeNumericText } from "./numeric.ts"
import type { ColumnKind, ColumnSpec } from "./schema.ts"

/** One decoded value of an array element. */
export type ScalarValue = number | bigint | boolean | Uint8Array

// Operations (plain numbers rather than a const enum, which isolatedModules handles badly)
/** int2 */
export const OP_INT2 = 0
/** int4 */
export const OP_INT4 = 1
/** int8 */
export const OP_INT8 = 2
/** timestamp and timestamptz */
export const OP_TS = 3
/** date */
export const OP_DATE = 4
/** float4 */
export const OP_FLOAT4 = 5
/** float8 */
export const OP_FLOAT8 = 6
/** bool */
export const OP_BOOL = 7
/** bytea, text, json: the bytes as sent */
export const OP_BYTES = 8
/** jsonb: a version byte, then the text */
export const OP_JSONB = 9
/** uuid: 16 bytes */
export const OP_UUID = 10
/** numeric written as DECIMAL */
export const OP_NUMDEC = 11
/** numeric written as text */
export const OP_NUMSTR = 12
/** one-dimensional array */
export const OP_ARRAY = 13

/** Exact byte length of a field per operation, or 0 when variable. */
export const FIXED_LENGTH: readonly number[] = [2, 4, 8, 8, 4, 4, 8, 1, 0, 0, 16, 0, 0, 0]

const OPS: Readonly<Record<ColumnKind, number>> = {
  int2: OP_INT2,
  int4: OP_INT4,
  int8: OP_INT8,
  timestamp: OP_TS,
  timestamptz: OP_TS,
  date: OP_DATE,
  float4: OP_FLOAT4,
  float8: OP_FLOAT8,
  bool: OP_BOOL,
  bytea: OP_BYTES,
  text: OP_BYTES,
  json: OP_BYTES,
  jsonb: OP_JSONB,
  uuid: OP_UUID,
  numeric_decimal: OP_NUMDEC,
  numeric_string: OP_NUMSTR,
  array: OP_ARRAY,
}

/** The decode operation of a column kind. */
export function opOf(kind: ColumnKind): number {
  return OPS[kind]
}

/** Microseconds between 1970-01-01 and 2000-01-01 (Postgres' epoch). */
export const PG_EPOCH_MICROS = 946_684_800_000_000n
/** Days between 1970-01-01 and 2000-01-01. */
export const PG_EPOCH_DAYS = 10_957
/** High and low 32 bits of PG_EPOCH_MICROS, for allocation-free int64 addition. */
export const EPOCH_HI = Math.floor(Number(PG_EPOCH_MICROS) / 2 ** 32)
/** See EPOCH_HI. */
export const EPOCH_LO = Number(PG_EPOCH_MICROS) % 2 ** 32

const ARENA_BYTES = 1 << 20
/** The value of every empty bytea/text (shared: values are never written to). */
export const EMPTY_BYTES = new Uint8Array(0)

/**
 * bytes[p, p + len) as a view. The decoder owns `bytes` (its private copy of a COPY chunk), so a
 * value costs one view object and no copy of its own. `new Uint8Array(buffer, offset, length)`
 * rather than subarray(): cheaper in JavaScriptCore (Bun), which looks up the species for subarray.
 */
export function bytesAt(bytes: Uint8Array, p: number, len: number): Uint8Array {
  return len === 0 ? EMPTY_BYTES : new Uint8Array(bytes.buffer, bytes.byteOffset + p, len)
}

/**
 * Private copies of COPY chunks and built values (numeric text), packed into shared 1 MiB
 * ArrayBuffers. Blocks are ArrayBuffers made up front: in JavaScriptCore a view on the lazily
 * materialized buffer of `new Uint8Array(n)` costs more. A block is never written twice.
 */
export class Arena {
  #block = new ArrayBuffer(ARENA_BYTES)
  #bytes = new Uint8Array(this.#block)
  #pos = 0

  /** Fresh bytes, zero-filled. */
  alloc(len: number): Uint8Array {
    if (this.#pos + len > ARENA_BYTES) {
      if (len > ARENA_BYTES / 4) return new Uint8Array(new ArrayBuffer(len))
      this.#block = new ArrayBuffer(ARENA_BYTES)
      this.#bytes = new Uint8Array(this.#block)
      this.#pos = 0
    }
    const start = this.#pos
    this.#pos = start + len
    return new Uint8Array(this.#block, start, len)
  }

  /** A private copy of `bytes`. */
  copyOf(bytes: Uint8Array): Uint8Array {
    const out = this.alloc(bytes.length)
    out.set(bytes)
    return out
  }
}

/** INTEGRITY error about a value of a column. */
export function fieldError(col: ColumnSpec | undefined, what: string): CompactError {
  return new CompactError(
    "INTEGRITY",
    `Cannot decode column "${col?.name}" of type "${col?.pgType}": ${what}`,
  )
}

/** Whether (hi, lo) is Postgres' ±infinity for int64 timestamps. */
export function isInfinite64(hi: number, lo: number): boolean {
  return (hi === 0x7fffffff && lo === 0xffffffff) || (hi === -0x80000000 && lo === 0)
}

/** INTEGRITY error for a timestamp that Parquet cannot hold (±infinity or past int64 µs since 1970). */
export function timestampError(col: ColumnSpec | undefined, hi: number, lo: number): CompactError {
  const what = isInfinite64(hi, lo)
    ? (hi < 0 ? "-infinity" : "infinity")
    : "a timestamp beyond int64 microseconds since 1970"
  return fieldError(col, `got ${what}; Parquet TIMESTAMP cannot hold it, filter or cast it in a view`)
}

/** Micros since 1970 of the binary timestamp at p; INTEGRITY for ±infinity. */
export function timestampMicros(col: ColumnSpec | undefined, dv: DataView, p: number): bigint {
  const hi = dv.getInt32(p)
  const lo = dv.getUint32(p + 4)
  if (isInfinite64(hi, lo)) throw timestampError(col, hi, lo)
  const micros = dv.getBigInt64(p) + PG_EPOCH_MICROS
  if (micros > 0x7fffffffffffffffn) throw timestampError(col, hi, lo)
  return micros
}

/** Days since 1970 of a binary date; INTEGRITY for ±infinity. */
export function dateDays(col: ColumnSpec | undefined, days: number): number {
  if (days === 0x7fffffff || days === -0x80000000) {
    const what = days < 0 ? "-infinity" : "infinity"
    throw fieldError(col, `got ${what}; Parquet DATE cannot hold it, filter or cast it in a view`)
  }
  return days + PG_EPOCH_DAYS
}

/** Decodes one non-NULL value (a column value or an array element) into its JS value; bytes are views of buf. */
export function decodeValue(
  col: ColumnSpec,
  op: number,
  arena: Arena,
  buf: Uint8Array,
  dv: DataView,
  p: number,
  len: number,
): ScalarValue | (ScalarValue | null)[] {
  const fixed = FIXED_LENGTH[op]!
  if (fixed !== 0 && len !== fixed) throw fieldError(col, `got a ${len}-byte value, expected ${fixed}`)
  switch (op) {
    case OP_INT2:
      return dv.getInt16(p)
    case OP_INT4:
      return dv.getInt32(p)
    case OP_INT8:
      return dv.getBigInt64(p)
    case OP_TS:
      return timestampMicros(col, dv, p)
    case OP_DATE:
      return dateDays(col, dv.getInt32(p))
    case OP_FLOAT4:
      return dv.getFloat32(p)
    case OP_FLOAT8:
      return dv.getFloat64(p)
    case OP_BOOL:
      return buf[p] !== 0
    case OP_BYTES:
    case OP_UUID:
      return bytesAt(buf, p, len)
    case OP_JSONB:
      if (len < 1 || buf[p] !== 1) throw fieldError(col, `got jsonb format version ${buf[p]}, expected 1`)
      return bytesAt(buf, p + 1, len - 1)
    case OP_NUMDEC:
      return numericToUnscaled(dv, p, len, col.precision ?? 38, col.scale ?? 0, col.name)
    case OP_NUMSTR: {
      const bytes = arena.alloc(numericTextLength(dv, p, len, col.name))
      writeNumericText(dv, p, bytes, 0)
      return bytes
    }
    case OP_ARRAY:
      return decodeArray(col, arena, buf, dv, p, len)
  }
  throw fieldError(col, `unknown decode operation ${op}`)
}

/**
 * Binary array (array_send): int32 ndim, int32 has-nulls, uint32 element oid, per dimension
 * int32 size and int32 lower bound, then elements as int32 length (-1 = NULL) + bytes.
 * Only one dimension with lower bound 1 round-trips through a Parquet LIST: others are INTEGRITY.
 */
export function decodeArray(
  col: ColumnSpec,
  arena: Arena,
  buf: Uint8Array,
  dv: DataView,
  p: number,
  len: number,
): (ScalarValue | null)[] {
  if (len < 12) throw fieldError(col, "malformed array")
  const ndim = dv.getInt32(p)
  if (ndim === 0) return []
  if (ndim !== 1) throw fieldError(col, `got a ${ndim}-dimensional array; only one dimension is supported`)
  if (len < 20) throw fieldError(col, "malformed array")
  const count = dv.getInt32(p + 12)
  const lbound = dv.getInt32(p + 16)
  if (lbound !== 1) throw fieldError(col, `got an array with lower bound ${lbound}; only 1 is supported`)
  const op = opOf(col.element ?? "array")
  if (op === OP_ARRAY) throw fieldError(col, "array elements must be scalars")
  const values: (ScalarValue | null)[] = []
  const end = p + len
  let q = p + 20
  for (let i = 0; i < count; i++) {
    if (q + 4 > end) throw fieldError(col, "malformed array")
    const elen = dv.getInt32(q)
    q += 4
    if (elen === -1) {
      values.push(null)
      continue
    }
    if (elen < 0 || q + elen > end) throw fieldError(col, "malformed array")
    values.push(decodeValue(col, op, arena, buf, dv, q, elen) as ScalarValue)
    q += elen
  }
  if (q !== end) throw fieldError(col, "malformed array")
  return values
}

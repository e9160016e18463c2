/**
 * The byte-level pieces of a Parquet page, owned here rather than imported from hyparquet-writer's
 * private modules: a growable byte sink, the RLE/bit-packed hybrid encoding of levels and
 * dictionary indexes, and the Thrift compact encoding of page headers (parquet.thrift's
 * PageHeader, DataPageHeader, DataPageHeaderV2, DictionaryPageHeader).
 */

/** A growable byte buffer written front to back. */
export class Sink {
  bytes: Uint8Array<ArrayBuffer>
  view: DataView
  pos = 0

  constructor(size = 1024) {
    this.bytes = new Uint8Array(size)
    this.view = new DataView(this.bytes.buffer)
  }

  /** Empties the sink into a fresh buffer of `size` bytes (drops a grown one). */
  reset(size: number): void {
    this.bytes = new Uint8Array(size)
    this.view = new DataView(this.bytes.buffer)
    this.pos = 0
  }

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.pos + n))
    next.set(this.bytes.subarray(0, this.pos))
    this.bytes = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): void {
    this.ensure(1)
    this.bytes[this.pos++] = v
  }

  /** Little-endian uint32. */
  u32(v: number): void {
    this.ensure(4)
    this.view.setUint32(this.pos, v, true)
    this.pos += 4
  }

  /** Unsigned LEB128 varint (values below 2^31). */
  varint(v: number): void {
    this.ensure(5)
    while (v > 0x7f) {
      this.bytes[this.pos++] = (v & 0x7f) | 0x80
      v >>>= 7
    }
    this.bytes[this.pos++] = v
  }

  append(b: Uint8Array): void {
    this.ensure(b.length)
    this.bytes.set(b, this.pos)
    this.pos += b.length
  }

  /** The bytes written so far (a view, valid until the next write or reset). */
  written(): Uint8Array<ArrayBuffer> {
    return this.bytes.subarray(0, this.pos)
  }
}

/**
 * Appends values[start, end) in the RLE/bit-packed hybrid encoding with `bitWidth` bits per value
 * (no length prefix): runs of 8 or more equal values as RLE runs, the rest in bit-packed groups of
 * 8 (the last padded with zeros). Returns the bytes written.
 */
export function writeHybrid(
  out: Sink,
  values: ArrayLike<number>,
  start: number,
  end: number,
  bitWidth: number,
): number {
  const begin = out.pos
  const valueBytes = (bitWidth + 7) >> 3
  let packedFrom = -1 // start of the pending bit-packed groups
  let i = start
  while (i < end) {
    const v = values[i]!
    let run = 1
    while (i + run < end && values[i + run] === v) run++
    if (run >= 8) {
      if (packedFrom >= 0) writePacked(out, values, packedFrom, i, end, bitWidth)
      packedFrom = -1
      out.varint(run * 2)
      out.ensure(valueBytes)
      for (let b = 0; b < valueBytes; b++) out.bytes[out.pos++] = (v >>> (8 * b)) & 0xff
      i += run
    } else {
      if (packedFrom < 0) packedFrom = i
      i += 8
    }
  }
  if (packedFrom >= 0) writePacked(out, values, packedFrom, Math.min(i, end + 7), end, bitWidth)
  return out.pos - begin
}

/** Bit-packed groups of 8 over values[from, to), reading zeros past `end`. */
function writePacked(
  out: Sink,
  values: ArrayLike<number>,
  from: number,
  to: number,
  end: number,
  bitWidth: number,
): void {
  const groups = Math.ceil((to - from) / 8)
  out.varint(groups * 2 + 1)
  out.ensure(groups * bitWidth)
  const bytes = out.bytes
  let pos = out.pos
  let acc = 0
  let bits = 0
  for (let i = from, stop = from + groups * 8; i < stop; i++) {
    acc |= (i < end ? values[i]! : 0) << bits
    bits += bitWidth
    while (bits >= 8) {
      bytes[pos++] = acc & 0xff
      acc >>>= 8
      bits -= 8
    }
  }
  out.pos = pos
}

/** Bits needed for values 0..max. */
export function bitWidth(max: number): number {
  return max <= 0 ? 0 : 32 - Math.clz32(max)
}

/** parquet.thrift enum values used here. */
export const PAGE_TYPE = { DATA_PAGE: 0, DICTIONARY_PAGE: 2, DATA_PAGE_V2: 3 } as const
export const ENCODING = { PLAIN: 0, RLE: 3, RLE_DICTIONARY: 8 } as const

/** One Thrift compact i32 field. */
type Field = [id: number, value: number | boolean | Field[] | undefined]

/** A Thrift compact struct of i32, bool and struct fields (ascending ids, undefined skipped). */
function writeStruct(out: Sink, fields: Field[]): void {
  let last = 0
  for (const [id, value] of fields) {
    if (value === undefined) continue
    const type = typeof value === "boolean" ? (value ? 1 : 2) : typeof value === "number" ? 5 : 12
    const delta = id - last
    if (delta > 0 && delta <= 15) out.u8((delta << 4) | type)
    else {
      out.u8(type)
      out.varint(((id << 1) ^ (id >> 15)) & 0xffff) // i16 zigzag
    }
    last = id
    if (typeof value === "number") out.varint(((value << 1) ^ (value >> 31)) >>> 0)
    else if (Array.isArray(value)) writeStruct(out, value)
  }
  out.u8(0) // stop
}

/** A page header as it is written. */
export type PageHeader =
  | { type: "DATA_PAGE"; uncompressed: number; compressed: number; values: number; encoding: number }
  | {
    type: "DATA_PAGE_V2"
    uncompressed: number
    compressed: number
    values: number
    nulls: number
    rows: number
    encoding: number
    defBytes: number
    repBytes: number
  }
  | { type: "DICTIONARY_PAGE"; uncompressed: number; compressed: number; values: number }

/** Writes a PageHeader (levels of v1 pages are RLE, the only encoding readers take). */
export function writePageHeader(out: Sink, h: PageHeader): void {
  writeStruct(out, [
    [1, PAGE_TYPE[h.type]],
    [2, h.uncompressed],
    [3, h.compressed],
    [
      5,
      h.type === "DATA_PAGE"
        ? [[1, h.values], [2, h.encoding], [3, ENCODING.RLE], [4, ENCODING.RLE]]
        : undefined,
    ],
    [7, h.type === "DICTIONARY_PAGE" ? [[1, h.values], [2, ENCODING.PLAIN]] : undefined],
    [
      8,
      h.type === "DATA_PAGE_V2"
        ? [[1, h.values], [2, h.nulls], [3, h.rows], [4, h.encoding], [5, h.defBytes], [6, h.repBytes]]
        : undefined,
    ],
  ])
}

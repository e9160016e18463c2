/**
 * The values of a page, as chunk.ts writes them: RLE_DICTIONARY indexes, PLAIN BOOLEAN bits, PLAIN
 * fixed-width bytes, PLAIN BYTE_ARRAY (each value after its length). One small function per kind:
 * the JIT optimizes each hot loop on its own.
 */
import { copyBytes } from "../pg/batch.ts"
import type { Dictionary } from "./dictionary.ts"
import type { Leaf, LeafType } from "./leaf.ts"
import { bitWidth, type Sink, writeHybrid } from "./rle.ts"

/**
 * Appends the page's values to `out`; returns instead the values' own bytes when they already are
 * the PLAIN form and `out` is empty (fixed-width values: NULL slots hold no bytes).
 */
export function encodeValues(
  out: Sink,
  t: LeafType,
  leaf: Leaf,
  dict: Dictionary | undefined,
  from: number,
  to: number,
  nulls: number,
): Uint8Array | undefined {
  // each kind's loop in a function of its own (small hot functions: cheaper for the JIT)
  if (dict) putIndexes(out, t, leaf, dict, from, to, nulls)
  else if (t.type === "BOOLEAN") putBooleans(out, t, leaf, from, to, nulls)
  else if (t.width) {
    const values = leaf.bytes.subarray(leaf.offsets[from]!, leaf.offsets[to]!)
    if (out.pos === 0) return values
    out.append(values)
  } else putByteArrays(out, t, leaf, from, to, nulls)
  return undefined
}

/** The dictionary indexes of the defined slots, bit width first, RLE/bit-packed. */
function putIndexes(
  out: Sink,
  t: LeafType,
  leaf: Leaf,
  dict: Dictionary,
  from: number,
  to: number,
  nulls: number,
) {
  const { def } = leaf
  const indexes = new Int32Array(to - from - nulls)
  let k = 0
  let top = 0
  for (let i = from; i < to; i++) {
    if (def && def[i] !== t.maxDef) continue
    const index = dict.indexes[i]!
    indexes[k++] = index
    if (index > top) top = index
  }
  const width = bitWidth(top)
  out.u8(width)
  writeHybrid(out, indexes, 0, indexes.length, width)
}

/** The defined slots' booleans, bit-packed (PLAIN BOOLEAN). */
function putBooleans(out: Sink, t: LeafType, leaf: Leaf, from: number, to: number, nulls: number) {
  const { def, bytes, offsets } = leaf
  const n = to - from - nulls
  out.ensure((n + 7) >> 3)
  out.bytes.fill(0, out.pos, out.pos + ((n + 7) >> 3))
  let k = 0
  for (let i = from; i < to; i++) {
    if (def && def[i] !== t.maxDef) continue
    if (bytes[offsets[i]!]) out.bytes[out.pos + (k >> 3)]! |= 1 << (k & 7)
    k++
  }
  out.pos += (n + 7) >> 3
}

/** PLAIN BYTE_ARRAY: each value after its uint32 length, copied as copyBytes() does (no view per value). */
function putByteArrays(out: Sink, t: LeafType, leaf: Leaf, from: number, to: number, nulls: number) {
  const { def, bytes, offsets } = leaf
  out.ensure(offsets[to]! - offsets[from]! + 4 * (to - from - nulls))
  const src = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dst = out.view
  let at = out.pos
  for (let i = from; i < to; i++) {
    if (def && def[i] !== t.maxDef) continue
    const a = offsets[i]!
    const len = offsets[i + 1]! - a
    dst.setUint32(at, len, true)
    copyBytes(bytes, src, a, out.bytes, dst, at + 4, len)
    at += 4 + len
  }
  out.pos = at
}

/** One value PLAIN (a dictionary page's): a uint32 length first for BYTE_ARRAY. */
export function putPlain(out: Sink, t: LeafType, bytes: Uint8Array, from: number, to: number): void {
  if (!t.width) out.u32(to - from)
  if (to - from > 64) out.append(bytes.subarray(from, to))
  else {
    out.ensure(to - from)
    for (let k = from; k < to; k++) out.bytes[out.pos++] = bytes[k]!
  }
}

/**
 * The dictionary decision of a column chunk: sample 1000 values spread over the chunk; give up if
 * their distinct bytes pass 90 % of their bytes; else build the dictionary (distinct values in
 * order of first appearance) and each defined slot's index, and keep it only if dictionary plus
 * bit-packed indexes at most halve the PLAIN bytes. The same rule hyparquet-writer 0.17 applies.
 */
import type { Leaf, LeafType } from "./leaf.ts"
import { bitWidth } from "./rle.ts"

/** A sample whose distinct bytes pass this share of its bytes gets no dictionary. */
const SAMPLE_REJECTION_RATIO = 0.9
/** Values sampled before building a dictionary. */
const SAMPLE_SIZE = 1000

/** A kept dictionary: the slot of each entry, and per slot its entry (defined slots only). */
export interface Dictionary {
  first: number[]
  indexes: Int32Array
}

/** The chunk's dictionary, or undefined when PLAIN is smaller or the type takes none (BOOLEAN). */
export function buildDictionary(t: LeafType, leaf: Leaf): Dictionary | undefined {
  if (t.type === "BOOLEAN") return undefined
  const { def, bytes, offsets, slots } = leaf
  const prefix = t.width ? 0 : 4 // PLAIN BYTE_ARRAY: uint32 length before each value
  const defined = (i: number) => !def || def[i] === t.maxDef
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

  const sampleSize = Math.min(slots, SAMPLE_SIZE)
  const sampled = new Set<number>()
  let sampleDistinct = 0
  let sampleTotal = 0
  for (let s = 0; s < sampleSize; s++) {
    const i = sampleSize === 1 ? 0 : Math.floor(s * (slots - 1) / (sampleSize - 1))
    if (!defined(i)) continue
    const size = offsets[i + 1]! - offsets[i]! + prefix
    const h = hash(bytes, view, offsets[i]!, offsets[i + 1]!)
    if (!sampled.has(h)) { // values whose hashes collide count as one here: a sample is an estimate
      sampled.add(h)
      sampleDistinct += size
    }
    sampleTotal += size
  }
  if (!sampleTotal || sampleDistinct / sampleTotal > SAMPLE_REJECTION_RATIO) return undefined

  return indexValues(t, leaf, view, prefix)
}

/**
 * The dictionary of every defined slot (see buildDictionary()), or undefined as soon as it passes
 * half the PLAIN bytes. A function of its own: the hot loop, small for the JIT.
 */
function indexValues(t: LeafType, leaf: Leaf, view: DataView, prefix: number): Dictionary | undefined {
  const { def, bytes, offsets, slots } = leaf
  // The PLAIN bytes, to give up as soon as the dictionary alone passes half of them
  let count = 0
  for (let i = 0; i < slots; i++) if (!def || def[i] === t.maxDef) count++
  const plainBytes = offsets[slots]! - offsets[0]! + count * prefix
  const first: number[] = []
  const indexes = new Int32Array(slots)
  const table = slotTable(slots) // open addressing: entry + 1 per hash slot, 0 when empty
  const mask = table.length - 1
  let dictBytes = 0
  for (let i = 0; i < slots; i++) {
    if (def && def[i] !== t.maxDef) continue
    const from = offsets[i]!
    const to = offsets[i + 1]!
    let h = hash(bytes, view, from, to) & mask
    let entry = table[h]! - 1
    while (entry >= 0 && !equal(bytes, view, offsets, first[entry]!, from, to)) {
      h = (h + 1) & mask
      entry = table[h]! - 1
    }
    if (entry < 0) {
      entry = first.length
      first.push(i)
      table[h] = entry + 1
      dictBytes += to - from + prefix
      if (2 * dictBytes > plainBytes) return undefined
    }
    indexes[i] = entry
  }
  const indexBytes = Math.ceil(count * bitWidth(first.length - 1) / 8)
  if (2 * (dictBytes + indexBytes) > plainBytes) return undefined
  return { first, indexes }
}

/** A zeroed hash table of at least twice `slots` entries (a power of two), reused between chunks. */
let tableBuffer = new Int32Array(1 << 12)
function slotTable(slots: number): Int32Array {
  let size = 1 << 12
  while (size < 2 * slots) size *= 2
  if (tableBuffer.length < size) tableBuffer = new Int32Array(size)
  const table = tableBuffer.subarray(0, size)
  table.fill(0)
  return table
}

/**
 * FNV-1a over bytes[from, to), taken four bytes at a time (then byte by byte): the 20- and 32-byte
 * addresses and hashes of chain data cost 5 and 8 steps instead of 20 and 32. It only places
 * values in the table (entries keep their order of first appearance), so it does not shape output.
 */
function hash(bytes: Uint8Array, view: DataView, from: number, to: number): number {
  let h = 0x811c9dc5
  let k = from
  for (; k + 4 <= to; k += 4) h = Math.imul(h ^ view.getInt32(k), 0x01000193)
  for (; k < to; k++) h = Math.imul(h ^ bytes[k]!, 0x01000193)
  return (h ^ (h >>> 15)) >>> 0 // word steps leave the low bits weak: fold the high ones in
}

function equal(
  bytes: Uint8Array,
  view: DataView,
  offsets: Int32Array,
  j: number,
  from: number,
  to: number,
): boolean {
  const b = offsets[j]!
  const len = to - from
  if (offsets[j + 1]! - b !== len) return false
  let k = 0
  for (; k + 4 <= len; k += 4) if (view.getInt32(from + k) !== view.getInt32(b + k)) return false
  for (; k < len; k++) if (bytes[from + k] !== bytes[b + k]) return false
  return true
}

/**
 * LIST columns packed into flat buffers before they cross to the encoder thread: the decoder gives
 * them as one JavaScript array per row of element views, which structured cloning copies object by
 * object (and the worker then rebuilds and collects), ~2.7 CPU-seconds per million `bytea[]` rows
 * (bench/profile.ts against the threaded binary). Packed, a column is its Leaf (levels and PLAIN
 * values) plus each row's first slot: a few transferable buffers.
 */
import type { ColumnBatch, ColumnValues } from "../pg/batch.ts"
import type { ColumnSpec } from "../pg/schema.ts"
import { type Leaf, leafType, listLeaf } from "./leaf.ts"

/** A LIST column's rows as a Leaf; rowSlots[r] is row r's first slot (rows + 1 entries). */
export class PackedList {
  readonly leaf: Leaf
  readonly rowSlots: Int32Array

  constructor(leaf: Leaf, rowSlots: Int32Array) {
    this.leaf = leaf
    this.rowSlots = rowSlots
  }

  /** Rows. */
  get length(): number {
    return this.leaf.rows
  }

  /** Rows [start, end), sharing this column's buffers. */
  slice(start: number, end: number): PackedList {
    const { leaf, rowSlots } = this
    const s0 = rowSlots[start]!
    const s1 = rowSlots[end]!
    const rows = new Int32Array(end - start + 1)
    for (let r = start; r <= end; r++) rows[r - start] = rowSlots[r]! - s0
    return new PackedList({
      rows: end - start,
      slots: s1 - s0,
      def: leaf.def?.subarray(s0, s1),
      rep: leaf.rep?.subarray(s0, s1),
      bytes: leaf.bytes,
      offsets: leaf.offsets.subarray(s0, s1 + 1),
    }, rows)
  }

  /** The parts one after the other, copied into one. */
  static concat(parts: PackedList[]): PackedList {
    let rows = 0
    let slots = 0
    let size = 0
    for (const p of parts) {
      rows += p.leaf.rows
      slots += p.leaf.slots
      size += p.leaf.offsets[p.leaf.slots]! - p.leaf.offsets[0]!
    }
    const def = new Uint8Array(slots)
    const rep = new Uint8Array(slots)
    const bytes = new Uint8Array(size)
    const offsets = new Int32Array(slots + 1)
    const rowSlots = new Int32Array(rows + 1)
    let r = 0
    let s = 0
    let o = 0
    for (const { leaf, rowSlots: starts } of parts) {
      const from = leaf.offsets[0]!
      const to = leaf.offsets[leaf.slots]!
      if (leaf.def) def.set(leaf.def, s)
      if (leaf.rep) rep.set(leaf.rep, s)
      bytes.set(leaf.bytes.subarray(from, to), o)
      for (let i = 1; i <= leaf.slots; i++) offsets[s + i] = leaf.offsets[i]! - from + o
      for (let i = 0; i < leaf.rows; i++) rowSlots[r + i] = starts[i]! + s
      r += leaf.rows
      s += leaf.slots
      o += to - from
    }
    rowSlots[rows] = slots
    return new PackedList({ rows, slots, def, rep, bytes, offsets }, rowSlots)
  }
}

/** The batch with its LIST columns packed (other columns as they are). */
export function packLists(batch: ColumnBatch, columns: readonly ColumnSpec[]): ColumnBatch {
  if (!columns.some((c) => c.kind === "array")) return batch
  return {
    rows: batch.rows,
    columns: batch.columns.map((values, j) => {
      const spec = columns[j]
      if (spec?.kind !== "array" || !Array.isArray(values)) return values
      const rowSlots = new Int32Array(values.length + 1)
      const leaf = listLeaf(leafType(spec), values, rowSlots)
      return new PackedList(leaf, rowSlots) as unknown as ColumnValues
    }),
  }
}

/** A PackedList as structured cloning delivers it (a plain object), made a PackedList again. */
export function revivePacked(value: unknown): PackedList | undefined {
  const v = value as { leaf?: Leaf; rowSlots?: Int32Array } | null
  return v && typeof v === "object" && v.leaf && v.rowSlots instanceof Int32Array
    ? new PackedList(v.leaf, v.rowSlots)
    : undefined
}

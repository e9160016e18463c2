/**
 * Column forms shared by the COPY decoder (src/pg) and the Parquet encoder (src/parquet), so that
 * neither adapter imports the other: a Parquet leaf's levels and PLAIN values (Leaf), and a LIST
 * column's rows packed as such a leaf (PackedList). The decoder builds LIST columns in this form
 * directly: one JavaScript array per row of element views held ~1 GB for 1.5M `bytea[]` rows and
 * cost a repacking pass before the encoder thread.
 */

/** A row group's column, ready for pages (see src/parquet/leaf.ts). */
export interface Leaf {
  rows: number
  slots: number
  /** Definition level per slot; undefined when every slot is defined (REQUIRED flat column). */
  def: Uint8Array | undefined
  /** Repetition level per slot (LIST columns only). */
  rep: Uint8Array | undefined
  /** Slot i's PLAIN value is bytes[offsets[i], offsets[i + 1]) (empty for NULL slots). */
  bytes: Uint8Array
  offsets: Int32Array
}

/** The PLAIN physical form of a packed list's elements (little-endian numbers, raw bytes). */
export type ListPhysical = "BOOLEAN" | "INT32" | "INT64" | "FLOAT" | "DOUBLE" | "BYTES"

/** A LIST column's rows as a Leaf; rowSlots[r] is row r's first slot (rows + 1 entries). */
export class PackedList {
  readonly leaf: Leaf
  readonly rowSlots: Int32Array
  /** How to read an element back (toArray()); "BYTES" also for fixed-width bytes. */
  readonly physical: ListPhysical

  constructor(leaf: Leaf, rowSlots: Int32Array, physical: ListPhysical = "BYTES") {
    this.leaf = leaf
    this.rowSlots = rowSlots
    this.physical = physical
  }

  /** Rows. */
  get length(): number {
    return this.leaf.rows
  }

  /** Rows [start, end), sharing this column's buffers. */
  slice(start = 0, end: number = this.length): PackedList {
    const { leaf, rowSlots } = this
    const s0 = rowSlots[start]!
    const s1 = rowSlots[end]!
    const rows = new Int32Array(end - start + 1)
    for (let r = start; r <= end; r++) rows[r - start] = rowSlots[r]! - s0
    return new PackedList(
      {
        rows: end - start,
        slots: s1 - s0,
        def: leaf.def?.subarray(s0, s1),
        rep: leaf.rep?.subarray(s0, s1),
        bytes: leaf.bytes,
        offsets: leaf.offsets.subarray(s0, s1 + 1),
      },
      rows,
      this.physical,
    )
  }

  /**
   * Each row as null or an array of element values (null for NULL elements), for tests and tools:
   * numbers, bigints (INT64), booleans or byte views. `optional`: the column may be NULL (then
   * definition level 0 is a NULL row and 1 an empty list).
   */
  toArray(optional: boolean): (unknown[] | null)[] {
    const { leaf, rowSlots } = this
    const base = optional ? 1 : 0
    const view = new DataView(leaf.bytes.buffer, leaf.bytes.byteOffset, leaf.bytes.byteLength)
    const out: (unknown[] | null)[] = []
    for (let r = 0; r < leaf.rows; r++) {
      const s0 = rowSlots[r]!
      const s1 = rowSlots[r + 1]!
      const d0 = leaf.def![s0]!
      if (d0 < base) {
        out.push(null)
        continue
      }
      const list: unknown[] = []
      if (d0 > base) {
        for (let s = s0; s < s1; s++) list.push(leaf.def![s] === base + 1 ? null : this.#value(view, s))
      }
      out.push(list)
    }
    return out
  }

  #value(view: DataView, s: number): unknown {
    const at = this.leaf.offsets[s]!
    switch (this.physical) {
      case "BOOLEAN":
        return view.getUint8(at) !== 0
      case "INT32":
        return view.getInt32(at, true)
      case "INT64":
        return view.getBigInt64(at, true)
      case "FLOAT":
        return view.getFloat32(at, true)
      case "DOUBLE":
        return view.getFloat64(at, true)
      default:
        return this.leaf.bytes.subarray(at, this.leaf.offsets[s + 1]!)
    }
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
    return new PackedList({ rows, slots, def, rep, bytes, offsets }, rowSlots, parts[0]?.physical)
  }
}

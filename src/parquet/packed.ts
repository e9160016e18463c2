/**
 * LIST columns packed into flat buffers before they cross to the encoder thread. The decoder packs
 * most array columns itself (src/pg/lists.ts); packLists() packs the rest (numeric_decimal
 * elements, and batches built by hand as per-row arrays), which structured cloning would otherwise
 * copy object by object (~2.7 CPU-seconds per million `bytea[]` rows). Packed, a column is its Leaf
 * (levels and PLAIN values) plus each row's first slot: a few transferable buffers.
 */
import { type ListPhysical, PackedList } from "../columns.ts"
import type { ColumnBatch, ColumnValues } from "../pg/batch.ts"
import type { ColumnSpec } from "../pg/schema.ts"
import { type Leaf, leafType, listLeaf } from "./leaf.ts"

export { PackedList }

/** The batch with its LIST columns packed (other columns as they are). */
export function packLists(batch: ColumnBatch, columns: readonly ColumnSpec[]): ColumnBatch {
  if (!columns.some((c) => c.kind === "array")) return batch
  return {
    rows: batch.rows,
    columns: batch.columns.map((values, j) => {
      const spec = columns[j]
      if (spec?.kind !== "array" || !Array.isArray(values)) return values
      const rowSlots = new Int32Array(values.length + 1)
      const t = leafType(spec)
      const leaf = listLeaf(t, values, rowSlots)
      const physical: ListPhysical = t.type === "BYTE_ARRAY" || t.type === "FIXED_LEN_BYTE_ARRAY"
        ? "BYTES"
        : t.type
      return new PackedList(leaf, rowSlots, physical) as unknown as ColumnValues
    }),
  }
}

/** A PackedList as structured cloning delivers it (a plain object), made a PackedList again. */
export function revivePacked(value: unknown): PackedList | undefined {
  const v = value as { leaf?: Leaf; rowSlots?: Int32Array; physical?: ListPhysical } | null
  return v && typeof v === "object" && v.leaf && v.rowSlots instanceof Int32Array
    ? new PackedList(v.leaf, v.rowSlots, v.physical)
    : undefined
}

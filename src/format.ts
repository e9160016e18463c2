/** Text for people: aligned tables and byte sizes. Pure. */

/** Rows as lines: the first and last columns left-aligned, the others right-aligned, two spaces apart. */
export function textTable(rows: readonly (readonly string[])[], indent = "  "): string[] {
  const columns = Math.max(0, ...rows.map((r) => r.length))
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)))
  return rows.map((r) =>
    indent +
    r.map((cell, c) => (c === 0 || c === r.length - 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join("  ").trimEnd()
  )
}

/** Bytes in binary units with three significant digits: "512 B", "1.21 MiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toPrecision(3)} ${units[unit]}`
}

/** A whole number with thousands separators: 1234567 -> "1,234,567". */
export function formatCount(n: number | bigint | string): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",")
}

/** "1 partition", "2 partitions": a count with its noun. */
export function plural(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? "" : "s"}`
}

/**
 * The `status` report drawn for people: a header with the tip, one coverage bar per dataset on a shared
 * block axis with a legend, a table of the numbers, then gaps, late rows and notes spelled out. Pure.
 */
import { BAR_CHARS, BAR_LEGEND, renderBar, type Segment } from "./core/coverage.ts"
import type { BlockRange } from "./core/range.ts"
import { formatBytes, formatCount, plural, textTable } from "./format.ts"
import type { DatasetStatus, JsonRange, StatusReport } from "./status.ts"

/** Bar width in characters when none is given. */
export const DEFAULT_BAR_WIDTH = 64

/** The status report as lines of text, bars `width` characters wide. */
export function formatStatus(r: StatusReport, width = DEFAULT_BAR_WIDTH): string {
  const tip = r.tip === null
    ? "tip unknown"
    : `tip ${formatCount(r.tip)} (from ${r.tip_source}), final tip ${
      r.final_tip === null ? "unknown" : formatCount(r.final_tip)
    }${r.finality_threshold === null ? "" : ` (threshold ${r.finality_threshold})`}`
  const lines = [`Chain ${r.chain_id} in ${r.store}: ${tip}`]
  if (r.datasets.length === 0) {
    lines.push("", `No datasets under chain ${r.chain_id} in ${r.store}`)
    return [...lines, ...notes(r)].join("\n")
  }
  const label = Math.max(...r.datasets.map((d) => d.dataset.length))
  if (r.domain !== null) {
    const domain = toRange(r.domain)
    const left = formatCount(r.domain.first)
    const right = formatCount(r.domain.last)
    lines.push("", `  ${" ".repeat(label)}  ${left}${right.padStart(Math.max(1, width - left.length))}`)
    for (const d of r.datasets) {
      const segments: Segment[] = d.segments.map((s) => ({ kind: s.kind, range: toRange(s) }))
      lines.push(`  ${d.dataset.padEnd(label)}  ${renderBar(segments, domain, width)}`)
    }
    const present = new Set(r.datasets.flatMap((d) => d.segments.map((s) => s.kind)))
    const kinds = (["cold", "hot", "not_final", "gap", "unknown"] as const).filter((k) => present.has(k))
    lines.push(`  ${" ".repeat(label)}  ${kinds.map((k) => `${BAR_CHARS[k]} ${BAR_LEGEND[k]}`).join("   ")}`)
  }
  const header = ["dataset", "partitions", "files", "rows", "bytes", "cold", "hot", "gaps", "late rows"]
  const rows = r.datasets.map((d) => [
    d.dataset,
    formatCount(d.partitions),
    formatCount(d.files),
    formatCount(d.rows),
    formatBytes(d.bytes),
    ranges(d.cold),
    d.hot === null ? (r.hot_available ? "none" : "unknown") : span(d.hot),
    d.gaps.length > 0 ? ranges(d.gaps) : d.segments.some((s) => s.kind === "unknown") ? "unknown" : "none",
    r.hot_available
      ? (d.late_rows.length === 0 ? "none" : plural(d.late_rows.length, "partition"))
      : "unknown",
  ])
  lines.push("", ...textTable([header, ...rows]))
  const gaps = r.datasets.flatMap((d) =>
    d.gaps.map((g) =>
      `  ${d.dataset}: blocks ${span(g)} (${
        formatCount(g.blocks)
      } blocks) are final and neither compacted nor ` +
      "in hot storage"
    )
  )
  if (gaps.length > 0) lines.push("", "Gaps:", ...gaps)
  const late = r.datasets.flatMap((d) =>
    d.late_rows.map((l) =>
      `  ${d.dataset}: partition ${l.partition} holds ${formatCount(l.cold_rows)} rows in cold storage, ` +
      `${formatCount(l.hot_rows)} in hot storage; run verify --against-hot`
    )
  )
  if (late.length > 0) lines.push("", "Late rows:", ...late)
  return [...lines, ...notes(r)].join("\n")
}

function notes(r: StatusReport): string[] {
  const out = [...r.notes]
  for (const d of r.datasets) out.push(...datasetNotes(d))
  return out.length === 0 ? [] : ["", "Notes:", ...out.map((n) => `  - ${n}`)]
}

function datasetNotes(d: DatasetStatus): string[] {
  const out: string[] = []
  if (d.hot_note !== null) out.push(`${d.dataset}: ${d.hot_note}`)
  if (d.not_deleted.length > 0) {
    out.push(
      `${d.dataset}: ${
        plural(d.not_deleted.length, "compacted partition")
      } still in hot storage too (not deleted yet): ` +
        list(d.not_deleted),
    )
  }
  if (d.orphans > 0) {
    out.push(`${d.dataset}: ${plural(d.orphans, "object")} that no manifest names; run verify`)
  }
  for (const p of d.problems) out.push(`${d.dataset}: ${p}; run verify`)
  return out
}

function toRange(r: JsonRange): BlockRange {
  return { first: BigInt(r.first), last: BigInt(r.last) }
}

function span(r: JsonRange): string {
  return r.first === r.last ? r.first : `${r.first}-${r.last}`
}

/** Up to three ranges, then how many more. */
function ranges(rs: readonly JsonRange[]): string {
  return rs.length === 0 ? "none" : list(rs.map(span))
}

function list(items: readonly string[], shown = 3): string {
  const more = items.length - shown
  return items.slice(0, shown).join(", ") + (more > 0 ? ` +${more} more` : "")
}

/**
 * What is where along a chain's blocks: compacted (cold), only in Postgres (hot), missing from both
 * (gap) or not final yet, as sorted segments that tile the blocks, and a text bar drawing them. Also
 * the gaps and overlaps between committed partitions, and what a partition's hot row count means.
 * Pure, no I/O.
 *
 * @example
 * ```ts
 * import { coverageSegments, renderBar } from "./coverage.ts"
 * const segments = coverageSegments({ cold: [{ first: 0n, last: 499n }], hot: { first: 700n, last: 1199n }, finalTip: 1099n, tip: 1199n })
 * // cold 0-499, gap 500-699, hot 700-1099, not_final 1100-1199
 * renderBar(segments, { first: 0n, last: 1199n }, 12) // "█████!!▒▒▒▒░"
 * ```
 */
import { type BlockRange, compareRanges, mergeRanges, overlaps, subtractRanges } from "./range.ts"

/**
 * What a block is: compacted (cold), only in the hot table and final (hot), final and in neither (gap),
 * above the final tip (not_final), or final, not compacted, with the hot table not consulted (unknown).
 */
export type SegmentKind = "cold" | "hot" | "gap" | "not_final" | "unknown"

/** A run of blocks of one kind. */
export interface Segment {
  readonly kind: SegmentKind
  readonly range: BlockRange // inclusive
}

/** What the segments are computed from. */
export interface CoverageInput {
  /** Committed partitions' ranges, in any order; they may overlap. */
  readonly cold: readonly BlockRange[]
  /**
   * Lowest and highest block of the hot table (blocks between count as hot); null when it holds none;
   * undefined when it was not consulted, so that blocks outside cold storage are unknown, not gaps.
   */
  readonly hot?: BlockRange | null | undefined
  /** Highest final block (tip minus threshold; may be negative), when known. */
  readonly finalTip?: bigint | undefined
  /** Highest known block: the segments reach it even when neither cold nor hot does. */
  readonly tip?: bigint | undefined
}

/** The blocks the segments span: from the lowest cold or hot block to the highest of cold, hot and tip. */
export function coverageDomain(input: CoverageInput): BlockRange | undefined {
  const firsts = [...input.cold.map((r) => r.first), ...(input.hot ? [input.hot.first] : [])]
  if (firsts.length === 0) return undefined
  const lasts = [
    ...input.cold.map((r) => r.last),
    ...(input.hot ? [input.hot.last] : []),
    ...(input.tip === undefined ? [] : [input.tip]),
  ]
  return { first: firsts.reduce(min), last: lasts.reduce(max) }
}

/**
 * Sorted segments tiling {@link coverageDomain}, adjacent ones of different kinds. A block is cold when a
 * partition covers it; otherwise not final above the final tip; otherwise unknown when the hot table was
 * not consulted; otherwise hot within the hot range; otherwise a gap: final, neither compacted nor hot.
 */
export function coverageSegments(input: CoverageInput): Segment[] {
  const domain = coverageDomain(input)
  if (domain === undefined) return []
  const cold = mergeRanges(input.cold)
  const segments: Segment[] = cold.map((range) => ({ kind: "cold", range }))
  for (const free of subtractRanges(domain, cold)) {
    const { finalTip } = input
    const above = finalTip === undefined ? undefined : clip(free, finalTip + 1n, undefined)
    if (above !== undefined) segments.push({ kind: "not_final", range: above })
    const below = finalTip === undefined ? free : clip(free, undefined, finalTip)
    if (below === undefined) continue
    if (input.hot === undefined) {
      segments.push({ kind: "unknown", range: below })
      continue
    }
    const hot = input.hot === null ? undefined : clip(below, input.hot.first, input.hot.last)
    if (hot !== undefined) segments.push({ kind: "hot", range: hot })
    for (const range of hot === undefined ? [below] : subtractRanges(below, [hot])) {
      segments.push({ kind: "gap", range })
    }
  }
  return joinSegments(segments)
}

/** The blocks between the first and the last partition that no partition covers, sorted. */
export function coldGaps(partitions: readonly BlockRange[]): BlockRange[] {
  if (partitions.length === 0) return []
  const span = {
    first: partitions.map((r) => r.first).reduce(min),
    last: partitions.map((r) => r.last).reduce(max),
  }
  return subtractRanges(span, partitions)
}

/** A partition's key and range, for {@link overlappingPartitions}. */
export interface KeyedRange {
  readonly key: string
  readonly range: BlockRange
}

/**
 * Pairs of partitions that share blocks: each partition that overlaps one starting before it (or at the
 * same block) is paired with the one reaching furthest among those. Empty exactly when all are disjoint.
 */
export function overlappingPartitions(partitions: readonly KeyedRange[]): Array<[KeyedRange, KeyedRange]> {
  const sorted = [...partitions].sort((a, b) => compareRanges(a.range, b.range))
  const pairs: Array<[KeyedRange, KeyedRange]> = []
  let reach: KeyedRange | undefined // the partition so far with the highest last block
  for (const p of sorted) {
    if (reach !== undefined && overlaps(reach.range, p.range)) pairs.push([reach, p])
    if (reach === undefined || p.range.last > reach.range.last) reach = p
  }
  return pairs
}

/**
 * What a committed partition's hot row count means: `archived` (no hot rows: compacted and deleted),
 * `not_deleted` (hot holds exactly the rows cold holds: compacted without deleting, fine), or
 * `late_rows` (any other count: rows arrived or vanished after compaction; recompact the partition).
 */
export function hotCountState(coldRows: number, hotRows: bigint): "archived" | "not_deleted" | "late_rows" {
  if (hotRows === 0n) return "archived"
  return hotRows === BigInt(coldRows) ? "not_deleted" : "late_rows"
}

/** The character of each kind in {@link renderBar}; `outside` marks cells outside every segment. */
export const BAR_CHARS: Readonly<Record<SegmentKind | "outside", string>> = Object.freeze({
  cold: "█",
  hot: "▒",
  not_final: "░",
  gap: "!",
  unknown: "?",
  outside: " ",
})

/** What each character of the bar means, for a legend line. */
export const BAR_LEGEND: Readonly<Record<SegmentKind, string>> = Object.freeze({
  cold: "cold",
  hot: "hot only, final",
  not_final: "not final",
  gap: "gap: final, in neither",
  unknown: "not cold, hot not consulted",
})

// a cell mixing kinds shows the one an operator must not miss: a gap of one block in a million stays visible
const PRIORITY: readonly (SegmentKind | "outside")[] = [
  "gap",
  "unknown",
  "hot",
  "not_final",
  "cold",
  "outside",
]

/**
 * Draws `segments` over `domain` as `width` characters ({@link BAR_CHARS}). Cell i covers blocks
 * `first + floor(i·n/width)` to `first + floor((i+1)·n/width) - 1` (at least one block) of the domain's n
 * blocks; a cell holding several kinds shows the most urgent: gap, unknown, hot, not final, cold.
 */
export function renderBar(segments: readonly Segment[], domain: BlockRange, width: number): string {
  const n = domain.last - domain.first + 1n
  const w = BigInt(width)
  let bar = ""
  for (let i = 0n; i < w; i++) {
    const first = domain.first + (i * n) / w
    const end = domain.first + ((i + 1n) * n) / w - 1n
    const cell = { first, last: end < first ? first : end }
    const kinds = new Set<SegmentKind | "outside">()
    let covered = 0n
    for (const s of segments) {
      if (!overlaps(s.range, cell)) continue
      kinds.add(s.kind)
      covered += min(s.range.last, cell.last) - max(s.range.first, cell.first) + 1n
    }
    if (covered < cell.last - cell.first + 1n) kinds.add("outside")
    bar += BAR_CHARS[PRIORITY.find((k) => kinds.has(k)) ?? "outside"]
  }
  return bar
}

/** Sorts segments and joins touching ones of the same kind. */
function joinSegments(segments: readonly Segment[]): Segment[] {
  const sorted = [...segments].sort((a, b) => compareRanges(a.range, b.range))
  const out: Segment[] = []
  for (const s of sorted) {
    const prev = out[out.length - 1]
    if (prev !== undefined && prev.kind === s.kind && prev.range.last + 1n === s.range.first) {
      out[out.length - 1] = { kind: s.kind, range: { first: prev.range.first, last: s.range.last } }
    } else {
      out.push(s)
    }
  }
  return out
}

/** `r` cut to `[lo, hi]` (either side open when undefined), or undefined when nothing is left. */
function clip(r: BlockRange, lo: bigint | undefined, hi: bigint | undefined): BlockRange | undefined {
  const first = lo === undefined ? r.first : max(r.first, lo)
  const last = hi === undefined ? r.last : min(r.last, hi)
  return first <= last ? { first, last } : undefined
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b
}

/**
 * Which aligned partitions are ready to compact, with no I/O: `plan` prints the verdicts, `compact
 * --auto` compacts the ready ones. A partition is ready when it is final, complete (every block is
 * in hot blocks or cold blocks), not locked, and not committed, or committed and changed since in a
 * way the run loop may act on (see src/core/decide.ts). Partitions are always whole: the aligned
 * buckets of the partition size, never clipped to the request.
 *
 * The facts come from src/survey.ts; the per-partition run loop re-reads them under its lock.
 */
import {
  decidePartition,
  type HotRows,
  type KeyComparison,
  type PartitionState,
  sameRows,
} from "./core/decide.ts"
import { blocksUntilFinal, finalTip as finalTipOf } from "./core/finality.ts"
import { partitionKey } from "./core/naming.ts"
import { type BlockRange, formatRange, rangeLength, subtractRanges } from "./core/range.ts"

/** Blocks per partition for plan, compact --auto and backfill when no partition size is set. */
export const DEFAULT_PARTITION_SIZE = 100_000n

/** What a partition is, for the run loop: only `ready` ones are compacted. */
export type PartitionStatus =
  | "ready"
  | "not-final" // above the final tip: N blocks to finality
  | "gap" // blocks missing from hot blocks and cold blocks
  | "late-rows" // a committed partition has hot rows its files lack
  | "locked" // another run holds the partition's lock
  | "committed" // committed and unchanged: nothing to do
  | "conflict" // overlaps another committed partition, or the schema changed with the rows

/** The verdict on one partition. Block numbers are bigint. */
export interface Verdict {
  readonly range: BlockRange
  readonly key: string
  readonly status: PartitionStatus
  readonly reason: string
  /** Hot rows of the partition now (undefined when not read: not final). */
  readonly hotRows?: number | undefined
  /** For `not-final`: how many more blocks the chain needs. */
  readonly blocksToFinality?: bigint | undefined
  /** For `gap`: the first missing block and how many are missing. */
  readonly firstMissing?: bigint | undefined
  readonly missingBlocks?: bigint | undefined
}

/** What was read about one partition (the ones above the final tip need only their range). */
export interface PartitionFacts {
  readonly range: BlockRange
  readonly hot?: HotRows | undefined
  readonly committed?: PartitionState["committed"]
  /** Key of another committed partition overlapping this one. */
  readonly overlapping?: string | undefined
  /** How hot and cold keys compare; read only for committed partitions whose hot rows differ. */
  readonly keys?: KeyComparison | undefined
  /** Blocks of the range that neither hot blocks nor cold blocks hold, sorted. */
  readonly missing: readonly BlockRange[]
  /** Whether another run holds the partition's advisory lock. */
  readonly locked: boolean
}

/** What every verdict of one dataset shares. */
export interface ReadinessContext {
  readonly dataset: string
  readonly tip: bigint
  readonly threshold: bigint
  readonly schemaHash: string
  readonly encoding: string
  /** --delete-after-compact: a committed, unchanged partition with hot rows is ready (to delete them). */
  readonly deleteHot: boolean
  readonly mergeLate: boolean
}

/** The advisory lock a partition's run takes (src/execute.ts), for the non-blocking check. */
export const partitionLockName = (chainId: bigint, dataset: string, range: BlockRange): string =>
  `parquet_compact:${chainId}:${dataset}:${partitionKey(range)}`

/** The whole aligned partitions holding blocks `request.first` to `request.last` (rounded outwards). */
export function wholePartitions(request: BlockRange, partitionSize: bigint): BlockRange[] {
  const out: BlockRange[] = []
  for (
    let first = (request.first / partitionSize) * partitionSize;
    first <= request.last;
    first += partitionSize
  ) {
    out.push({ first, last: first + partitionSize - 1n })
  }
  return out
}

/**
 * The whole partitions from `request.first` to `request.last`, enumerated only up to the bucket holding
 * the tip; what lies above it is returned as `beyond` (one range, never final, not enumerated).
 */
export function planWindow(
  request: BlockRange,
  partitionSize: bigint,
  tip: bigint,
): { partitions: BlockRange[]; beyond?: BlockRange } {
  const first = (request.first / partitionSize) * partitionSize
  const last = ((request.last / partitionSize) + 1n) * partitionSize - 1n
  const tipBucketLast = ((tip < 0n ? 0n : tip) / partitionSize + 1n) * partitionSize - 1n
  if (last <= tipBucketLast) return { partitions: wholePartitions({ first, last }, partitionSize) }
  const cut = tipBucketLast < first ? first - 1n : tipBucketLast
  return {
    partitions: cut < first ? [] : wholePartitions({ first, last: cut }, partitionSize),
    beyond: { first: cut + 1n, last },
  }
}

/**
 * Where a plan starts when no `--from` is given: the lower of the lowest block hot storage still holds
 * and the first block after the manifest's lowest covered run (the first uncompacted block; without a
 * manifest, the lowest block of the hot blocks table). Undefined when there is nothing at all.
 */
export function planStart(
  lowestHot: bigint | undefined,
  lowestHotBlock: bigint | undefined,
  coverage: readonly BlockRange[],
): bigint | undefined {
  const firstUncompacted = coverage.length > 0 ? coverage[0]!.last + 1n : lowestHotBlock
  const candidates = [lowestHot, firstUncompacted].filter((b): b is bigint => b !== undefined)
  return candidates.length === 0 ? undefined : candidates.reduce((a, b) => (a < b ? a : b))
}

/** Final blocks from `first` up to the final tip that no committed partition covers (the threshold). */
export function finalUncompactedBlocks(
  first: bigint,
  finalTip: bigint,
  coverage: readonly BlockRange[],
): bigint {
  if (finalTip < first) return 0n
  return subtractRanges({ first, last: finalTip }, coverage).reduce((n, r) => n + rangeLength(r), 0n)
}

/** Classifies one partition (the module comment says when it is ready). */
export function classify(facts: PartitionFacts, ctx: ReadinessContext): Verdict {
  const { range } = facts
  const base = { range, key: partitionKey(range), hotRows: facts.hot?.rows }
  const wait = blocksUntilFinal(range, ctx.tip, ctx.threshold)
  if (wait > 0n) {
    return {
      ...base,
      status: "not-final",
      blocksToFinality: wait,
      reason: `${wait} ${wait === 1n ? "block" : "blocks"} to finality (final tip ${
        finalTipOf(ctx.tip, ctx.threshold)
      })`,
    }
  }
  if (facts.locked) return { ...base, status: "locked", reason: "locked by another run" }
  const hot = facts.hot ?? { rows: 0, fingerprint: "0" }
  const committed = facts.committed
  if (committed !== undefined && facts.overlapping === undefined) {
    if (hot.rows === 0) {
      return { ...base, status: "committed", reason: `compacted (${committed.rows} rows), no hot rows left` }
    }
    if (sameRows(hot, committed.source)) {
      return ctx.deleteHot
        ? { ...base, status: "ready", reason: `compacted and unchanged; ${hot.rows} hot rows to delete` }
        : { ...base, status: "committed", reason: `compacted (${committed.rows} rows), unchanged since` }
    }
  }
  const plan = decidePartition({
    range,
    dataset: ctx.dataset,
    committed,
    overlapping: facts.overlapping,
    orphans: [],
    missingFiles: [], // lost files are verify's to find: plan does not read every object
    hot,
    keys: facts.keys,
    schemaHash: ctx.schemaHash,
    encoding: ctx.encoding,
  }, { deleteHot: ctx.deleteHot, mergeLate: ctx.mergeLate })
  if (plan.action === "refuse") {
    const late = facts.keys !== undefined && facts.keys.hotOnly > 0 && facts.overlapping === undefined
    return { ...base, status: late ? "late-rows" : "conflict", reason: plan.reason }
  }
  if (plan.action === "keep") {
    return { ...base, status: "committed", reason: plan.reason }
  }
  const missing = plan.checkComplete ? facts.missing : []
  if (missing.length > 0) {
    const count = missing.reduce((n, r) => n + rangeLength(r), 0n)
    const first = missing[0]!.first
    return {
      ...base,
      status: "gap",
      firstMissing: first,
      missingBlocks: count,
      reason: `gap at block ${first} (${count} ${count === 1n ? "block" : "blocks"} missing: ${
        missing.slice(0, 3).map(formatRange).join(", ")
      }${missing.length > 3 ? ", …" : ""})`,
    }
  }
  const what = plan.mode === "new" ? "final and complete, not compacted yet" : plan.reason
  return { ...base, status: "ready", reason: what }
}

/** The parts of `missing` (sorted, disjoint) that fall in `range`. */
export function missingIn(range: BlockRange, missing: readonly BlockRange[]): BlockRange[] {
  const out: BlockRange[] = []
  for (const m of missing) {
    if (m.last < range.first || m.first > range.last) continue
    out.push({
      first: m.first > range.first ? m.first : range.first,
      last: m.last < range.last ? m.last : range.last,
    })
  }
  return out
}

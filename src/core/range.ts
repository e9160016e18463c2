/**
 * Inclusive block ranges and the chunk maths on them: splitting a request into partitions aligned to
 * the partition size, merging ranges, and finding the gaps left by covered ranges. Pure, no I/O.
 *
 * @example
 * ```ts
 * import { blockRange, formatRange, partitionRange } from "./range.ts"
 * const pieces = partitionRange(blockRange(5000n, 25000n), 10000n)
 * pieces.map(formatRange) // ["5000-9999", "10000-19999", "20000-25000"]
 * ```
 */
import { CompactError } from "../errors.ts"

/** Blocks `first` to `last`, both inclusive; `0 <= first <= last`. */
export interface BlockRange {
  readonly first: bigint // inclusive
  readonly last: bigint // inclusive
}

/** A validated range; throws BAD_INPUT when `first` is negative or above `last`. */
export function blockRange(first: bigint, last: bigint): BlockRange {
  if (first < 0n) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot use block range "${first}-${last}": block "${first}" is negative; start at block 0 or above`,
    )
  }
  if (first > last) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot use block range "${first}-${last}": the first block is above the last; swap them`,
    )
  }
  return { first, last }
}

/** Number of blocks in the range (at least 1). */
export function rangeLength(range: BlockRange): bigint {
  return range.last - range.first + 1n
}

/** Whether `inner` (a block or a range) lies wholly within `outer`. */
export function contains(outer: BlockRange, inner: bigint | BlockRange): boolean {
  const r = typeof inner === "bigint" ? { first: inner, last: inner } : inner
  return outer.first <= r.first && r.last <= outer.last
}

/** Whether the two ranges share at least one block. */
export function overlaps(a: BlockRange, b: BlockRange): boolean {
  return a.first <= b.last && b.first <= a.last
}

/** The range as `first-last`, e.g. "100-199". */
export function formatRange(range: BlockRange): string {
  return `${range.first}-${range.last}`
}

/** Ascending order by first block, then by last block; for `Array.prototype.sort`. */
export function compareRanges(a: BlockRange, b: BlockRange): number {
  if (a.first !== b.first) return a.first < b.first ? -1 : 1
  if (a.last !== b.last) return a.last < b.last ? -1 : 1
  return 0
}

/**
 * Split `request` into pieces aligned to multiples of `partitionSize` blocks (0-9999, 10000-19999, …
 * for 10000). The first and last piece may be partial: they are clipped to the request, never widened.
 * Throws BAD_INPUT when the size is not positive or the request is not a valid range.
 */
export function partitionRange(request: BlockRange, partitionSize: bigint): BlockRange[] {
  checkSize(partitionSize)
  blockRange(request.first, request.last)
  const pieces: BlockRange[] = []
  let first = request.first
  while (first <= request.last) {
    const bucketLast = (first / partitionSize + 1n) * partitionSize - 1n // inclusive end of first's bucket
    const last = bucketLast < request.last ? bucketLast : request.last
    pieces.push({ first, last })
    first = last + 1n
  }
  return pieces
}

/**
 * The aligned pieces of `request` (see {@link partitionRange}) that are wholly final, i.e. whose last
 * block is at or below `finalTip`. A bucket that straddles the final tip is left out, not clipped, so
 * a later run writes it whole instead of having to replace a partial partition.
 */
export function planFinalPartitions(
  request: BlockRange,
  partitionSize: bigint,
  finalTip: bigint,
): BlockRange[] {
  checkSize(partitionSize)
  blockRange(request.first, request.last)
  if (finalTip < request.first) return []
  // Stop at the end of the bucket holding the final tip: nothing above it can be final, and a huge
  // request with a low tip must not enumerate millions of pieces.
  const tipBucketLast = (finalTip / partitionSize + 1n) * partitionSize - 1n
  const last = tipBucketLast < request.last ? tipBucketLast : request.last
  return partitionRange({ first: request.first, last }, partitionSize).filter((p) => p.last <= finalTip)
}

/** The union of `ranges`, sorted and disjoint; adjacent ranges (9 and 10) are merged into one. */
export function mergeRanges(ranges: readonly BlockRange[]): BlockRange[] {
  const sorted = [...ranges].sort(compareRanges)
  const merged: BlockRange[] = []
  for (const r of sorted) {
    const prev = merged[merged.length - 1]
    if (prev !== undefined && r.first <= prev.last + 1n) {
      if (r.last > prev.last) merged[merged.length - 1] = { first: prev.first, last: r.last }
    } else {
      merged.push({ first: r.first, last: r.last })
    }
  }
  return merged
}

/** The parts of `range` outside the union of `covered`, sorted and disjoint. */
export function subtractRanges(range: BlockRange, covered: readonly BlockRange[]): BlockRange[] {
  const gaps: BlockRange[] = []
  let next = range.first // first block not yet accounted for
  for (const c of mergeRanges(covered)) {
    if (c.last < next) continue
    if (c.first > range.last) break
    if (c.first > next) gaps.push({ first: next, last: c.first - 1n })
    next = c.last + 1n
    if (next > range.last) return gaps
  }
  gaps.push({ first: next, last: range.last })
  return gaps
}

function checkSize(partitionSize: bigint): void {
  if (partitionSize <= 0n) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot split blocks into partitions of "${partitionSize}" blocks: the size must be positive; pass a partition size of 1 or more`,
    )
  }
}

/**
 * Planning a run, with no I/O: which tip counts and which partitions to cover. The per-partition
 * decision is src/core/decide.ts; the I/O around both is in compact.ts and execute.ts.
 */
import { CompactError } from "./errors.ts"
import { assertFinal, finalTip } from "./core/finality.ts"
import { type BlockRange, partitionRange } from "./core/range.ts"

/** What the plan needs to know. */
export interface PlanInput {
  readonly request: BlockRange
  /** Blocks per aligned partition; undefined makes the whole request one partition. */
  readonly partitionSize?: bigint | undefined
  readonly tip: bigint
  readonly threshold: bigint
}

/** The partitions a run covers, in order, all final. */
export interface Plan {
  readonly finalTip: bigint
  readonly partitions: readonly BlockRange[]
}

/**
 * Plans a run: the whole request must be final (NOT_FINAL otherwise, compacting nothing), then it
 * is cut into aligned partitions, or kept whole.
 */
export function planCompaction(input: PlanInput): Plan {
  assertFinal(input.request, input.tip, input.threshold)
  const partitions = input.partitionSize === undefined
    ? [input.request]
    : partitionRange(input.request, input.partitionSize)
  return { finalTip: finalTip(input.tip, input.threshold), partitions }
}

/**
 * The tip to judge finality by: `--tip` when given, else the highest block known to exist: the hot
 * blocks table's tip, or the last block of a committed partition (a partition is only committed once
 * its blocks were seen complete, so it is an observed block even after its hot rows were deleted).
 * Tips recorded in manifests are not used: they may have come from an earlier `--tip`.
 */
export function resolveTip(
  flag: bigint | undefined,
  hot: bigint | undefined,
  committed: readonly bigint[],
): bigint {
  if (flag !== undefined) return flag
  const known = hot === undefined ? committed : [hot, ...committed]
  if (known.length === 0) {
    throw new CompactError(
      "NOT_FINAL",
      "Cannot find the chain tip: the hot blocks table has no rows for this chain and nothing is compacted yet; " +
        "wait for the block follower or pass --tip",
    )
  }
  return known.reduce((a, b) => (a > b ? a : b))
}

/**
 * Splitting a backfill across machines, with no I/O: each aligned partition belongs to exactly one of
 * `count` shards, the same on every machine. Partitions are dealt round-robin by their bucket number
 * (`first / partitionSize`), so neighbouring partitions go to different shards and every shard gets
 * a share of old and new blocks alike (row counts usually grow with the block number).
 *
 * @example
 * ```ts
 * import { shardOf } from "./shard.ts"
 * shardOf({ first: 20000n, last: 29999n }, 10000n, 3) // 2
 * ```
 */
import { CompactError } from "../errors.ts"
import type { BlockRange } from "./range.ts"

/** One machine's share of the work: shard `index` (0-based) of `count`. */
export interface Shard {
  readonly index: number
  readonly count: number
}

/** The shard (0 to count - 1) that owns the partition starting at `range.first`. */
export function shardOf(range: BlockRange, partitionSize: bigint, count: number): number {
  if (!Number.isInteger(count) || count < 1) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot split work into "${count}" shards: the shard count must be a whole number of 1 or more`,
    )
  }
  if (partitionSize <= 0n) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot assign shards for partitions of "${partitionSize}" blocks: the size must be positive`,
    )
  }
  return Number((range.first / partitionSize) % BigInt(count))
}

/** The partitions that belong to `shard`, in their order; all of them when `shard` is undefined. */
export function partitionsOfShard(
  partitions: readonly BlockRange[],
  partitionSize: bigint,
  shard: Shard | undefined,
): BlockRange[] {
  if (shard === undefined) return [...partitions]
  if (!Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot use shard index "${shard.index}" of ${shard.count} shards: it must be 0 to ${shard.count - 1}`,
    )
  }
  return partitions.filter((p) => shardOf(p, partitionSize, shard.count) === shard.index)
}

/** The shard settings as a {@link Shard}, or undefined when the run is not sharded. */
export function shardFromSettings(
  settings: { readonly shardIndex?: number | undefined; readonly shardCount?: number | undefined },
): Shard | undefined {
  return settings.shardIndex === undefined || settings.shardCount === undefined
    ? undefined
    : { index: settings.shardIndex, count: settings.shardCount }
}

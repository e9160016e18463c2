/**
 * When a block is final: a block is final once it is at least `threshold` blocks below the chain tip.
 * A depth rule, not a read of the consensus layer's finalized checkpoint; the defaults below are
 * chosen so the depth covers the chain's finality delay in normal operation. Pure, no I/O.
 *
 * @example
 * ```ts
 * import { finalityThreshold, finalTip, isFinal } from "./finality.ts"
 * const tip = finalTip(1000n, finalityThreshold(10143n)) // 900n
 * isFinal({ first: 800n, last: 899n }, tip) // true
 * ```
 */
import { CompactError } from "../errors.ts"
import type { BlockRange } from "./range.ts"

/** Default finality threshold in blocks, keyed by chain id as a decimal string. */
export const DEFAULT_FINALITY: Readonly<Record<string, bigint>> = Object.freeze({
  // Ethereum mainnet. The finalized checkpoint trails the head by 2-3 epochs (64-95 slots of 32 per
  // epoch) while the chain finalizes normally; 96 blocks are at least 96 slots, so past it.
  "1": 96n,
  // Sepolia: the same beacon-chain parameters as mainnet (32-slot epochs, finality after 2 epochs).
  "11155111": 96n,
  // Hoodi: the same beacon-chain parameters as mainnet.
  "560048": 96n,
  // Monad testnet: 100 blocks, per the design.
  "10143": 100n,
})

/**
 * The finality threshold for a chain: `override` when given, else the chain's default. Throws
 * BAD_INPUT for a negative override or for a chain without a default and no override.
 */
export function finalityThreshold(chainId: bigint, override?: bigint): bigint {
  if (override !== undefined) {
    if (override < 0n) {
      throw new CompactError(
        "BAD_INPUT",
        `Cannot use finality threshold "${override}": it is negative; pass --finality-threshold 0 or more`,
      )
    }
    return override
  }
  const known = DEFAULT_FINALITY[chainId.toString()]
  if (known === undefined) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot find a finality threshold for chain "${chainId}": it has no default; pass --finality-threshold <blocks>`,
    )
  }
  return known
}

/** The highest final block: `tip - threshold`; negative when no block is final yet. */
export function finalTip(tip: bigint, threshold: bigint): bigint {
  return tip - threshold
}

/** Whether every block of `range` is final, i.e. `range.last <= finalTip`. */
export function isFinal(range: BlockRange, finalTip: bigint): boolean {
  return range.last <= finalTip
}

/** How many more blocks the chain must produce before all of `range` is final; 0 when it already is. */
export function blocksUntilFinal(range: BlockRange, tip: bigint, threshold: bigint): bigint {
  const missing = range.last - finalTip(tip, threshold)
  return missing > 0n ? missing : 0n
}

/** Throws NOT_FINAL unless all of `range` is final at `tip` with `threshold`. */
export function assertFinal(range: BlockRange, tip: bigint, threshold: bigint): void {
  const wait = blocksUntilFinal(range, tip, threshold)
  if (wait > 0n) {
    throw new CompactError(
      "NOT_FINAL",
      `Cannot compact blocks "${range.first}-${range.last}": the range is above the final tip "${
        finalTip(tip, threshold)
      }" (tip "${tip}" minus threshold "${threshold}"); wait for ${wait} more blocks`,
    )
  }
}

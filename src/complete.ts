/**
 * Whether a range is complete in hot storage (every block in hot blocks, or in cold blocks for other
 * datasets): a scan of the blocks table before the COPY, or, for the blocks dataset itself, a tally
 * of the blocks its COPY streams (the same rows, the same snapshot, and no scan of their own).
 */
import { readManifest } from "./commit.ts"
import { BlockTally, type MissingBlocks } from "./core/blocktally.ts"
import { gaps } from "./core/manifest.ts"
import { type BlockRange, formatRange } from "./core/range.ts"
import type { Dataset } from "./dataset.ts"
import { CompactError } from "./errors.ts"
import { missingBlocks } from "./pg/hot.ts"

/** Refuses (INTEGRITY) a range with blocks missing from hot storage, unless cold blocks cover them. */
export async function checkComplete(ds: Dataset, range: BlockRange): Promise<void> {
  const { config, deps } = ds
  // read now, not at the start: a blocks run may have compacted and deleted hot blocks meanwhile
  const coldBlocks = ds.isBlocksDataset
    ? undefined
    : await readManifest(deps.store, deps.prefix, config.chainId, "blocks")
  const uncovered = coldBlocks ? gaps(coldBlocks.manifest, range) : [range]
  for (const part of uncovered) {
    const { missing, first } = await missingBlocks(deps.sql, ds.blocks, part)
    if (missing > 0n) throw incomplete(ds, range, missing, first)
  }
}

/**
 * A tally for the blocks dataset's COPY when its rows come in block order (the block column leads
 * the order after the chain column, and is NOT NULL): the blocks it lacks are then known from the
 * copied rows themselves, in the COPY's own snapshot, with no scan of their own. Else undefined.
 */
export function blockTally(ds: Dataset, range: BlockRange): BlockTally | undefined {
  const { config } = ds
  const chain = config.chainColumn ?? "chain_id"
  const leading = ds.orderBy.find((c) => c !== chain)
  const block = ds.source.info.columns.find((c) => c.name === config.blockColumn)
  const ordered = leading === config.blockColumn && block?.notNull === true
  return ds.isBlocksDataset && ordered && range.first >= 0n && range.last < 2n ** 53n
    ? new BlockTally(range)
    : undefined
}

/** Refuses (INTEGRITY) a blocks range whose COPY lacked blocks, or whose rows came out of order. */
export function refuseIncomplete(ds: Dataset, range: BlockRange, found: MissingBlocks | undefined): void {
  if (found === undefined) {
    throw new CompactError(
      "INTEGRITY",
      `Cannot tell whether blocks ${formatRange(range)} are complete: the copied rows were not in block ` +
        "order; nothing was committed, report this with the table's definition",
    )
  }
  if (found.missing > 0n) throw incomplete(ds, range, found.missing, found.first)
}

function incomplete(ds: Dataset, range: BlockRange, missing: bigint, first: bigint[]): CompactError {
  const { config } = ds
  return new CompactError(
    "INTEGRITY",
    `Cannot compact ${config.dataset} blocks ${formatRange(range)} of chain ${config.chainId}: ` +
      `${missing} blocks are missing from "${config.blocksTable}"` +
      (ds.isBlocksDataset ? "" : " and cold blocks") +
      `, first ${first.join(", ")}; wait until the range is complete or compact a complete range`,
  )
}

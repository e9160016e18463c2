/**
 * The `plan` subcommand: which whole partitions are ready to compact and why the others are not. A
 * table on stdout for people; one JSON object per partition with `--json`. Writes nothing.
 */
import type { Command } from "@commander-js/extra-typings"
import { datasetOptions } from "./options.ts"
import type { Config, RangeRule } from "../config.ts"
import { openDataset } from "../dataset.ts"
import { formatRange } from "../core/range.ts"
import { shardFromSettings } from "../core/shard.ts"
import { partitionSizeOf } from "../backfill.ts"
import type { Verdict } from "../readiness.ts"
import { surveyDataset, verdictsWithBeyond } from "../survey.ts"
import { withDeps } from "./many.ts"
import type { Session } from "./session.ts"

/** --from and --to spell the range of plan and backfill. */
export const FROM_TO: RangeRule = { optional: true, flags: { startBlock: "--from", endBlock: "--to" } }

/** One partition as `plan --json` prints it. Block numbers are strings. */
export interface PlanLine {
  readonly partition_key: string
  readonly start_block: string
  readonly end_block: string
  readonly ready: boolean
  readonly status: Verdict["status"]
  readonly reason: string
  readonly hot_rows: number | null
  readonly blocks_to_finality: string | null
  readonly first_missing_block: string | null
}

/** A verdict as a JSON line. */
export function planLine(v: Verdict): PlanLine {
  return {
    partition_key: v.key,
    start_block: v.range.first.toString(),
    end_block: v.range.last.toString(),
    ready: v.status === "ready",
    status: v.status,
    reason: v.reason,
    hot_rows: v.hotRows ?? null,
    blocks_to_finality: v.blocksToFinality?.toString() ?? null,
    first_missing_block: v.firstMissing?.toString() ?? null,
  }
}

/** The verdicts as a table; runs of committed partitions are folded into one row. */
export function formatPlanTable(verdicts: readonly Verdict[]): string {
  const rows: string[][] = [["PARTITION", "STATUS", "HOT ROWS", "REASON"]]
  for (let i = 0; i < verdicts.length; i++) {
    const v = verdicts[i]!
    let j = i
    while (v.status === "committed" && verdicts[j + 1]?.status === "committed") j++
    if (j > i) {
      const range = formatRange({ first: v.range.first, last: verdicts[j]!.range.last })
      const hot = verdicts.slice(i, j + 1).reduce((n, x) => n + (x.hotRows ?? 0), 0)
      rows.push([range, "committed", String(hot), `${j - i + 1} partitions compacted, unchanged`])
      i = j
      continue
    }
    rows.push([v.key, v.status, v.hotRows === undefined ? "-" : String(v.hotRows), v.reason])
  }
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)))
  return rows.map((r) =>
    [r[0]!.padEnd(widths[0]!), r[1]!.padEnd(widths[1]!), r[2]!.padStart(widths[2]!), r[3]!].join("  ")
  ).join("\n")
}

/** Adds `plan` to the program. */
export function addPlanCommand(root: Command, session: Session): void {
  datasetOptions(
    root
      .command("plan")
      .description(
        "List the whole partitions from the first uncompacted block (or --from) to the tip (or --to): " +
          "ready to compact, or why not (blocks to finality, gap, late rows, locked). Writes nothing",
      ),
  )
    .option("--from <block>", "first block to plan (default: the first uncompacted block)")
    .option("--to <block>", "last block to plan (default: the tip)")
    .option("--partition-size <blocks>", "blocks per aligned partition (default 100000)")
    .option("--delete-after-compact", "count committed, unchanged partitions with hot rows as ready")
    .option("--merge-late", "count committed partitions with late rows as ready (to merge them)")
    .option("--order-by <columns>", "comma-separated row order (default: the primary key)")
    .option("--shard-index <i>", "show only the partitions of this shard (0-based)")
    .option("--shard-count <n>", "number of shards")
    .addHelpText(
      "after",
      "\nExit codes: 0 planned (whatever the verdicts), 1 worth retrying, 2 bad input, 3 no tip yet (no block at all).",
    )
    .action(async (options) => {
      const settings = await session.settings(options, FROM_TO)
      const size = partitionSizeOf(settings)
      const config: Config = {
        ...settings,
        startBlock: settings.startBlock ?? 0n,
        endBlock: settings.endBlock ?? 0n,
      }
      await withDeps(settings, session, async (deps) => {
        const ds = await openDataset(config, deps)
        const survey = await surveyDataset(ds, {
          first: settings.startBlock,
          last: settings.endBlock,
          partitionSize: size,
          shard: shardFromSettings(settings),
        })
        const verdicts = verdictsWithBeyond(survey, ds.tip)
        if (settings.json) {
          for (const v of verdicts) session.io.out(JSON.stringify(planLine(v)))
          return
        }
        const ready = survey.verdicts.filter((v) => v.status === "ready")
        session.io.out(
          `${config.dataset} of chain ${config.chainId}: tip ${ds.tip}, final tip ${ds.finalTip} ` +
            `(threshold ${ds.threshold}), partitions of ${size} blocks; ${ready.length} ready, ` +
            `${
              survey.verdicts.length - ready.length
            } not; ${survey.finalUncompacted} final blocks uncompacted`,
        )
        session.io.out(
          verdicts.length === 0 ? "Nothing to plan: hot storage holds no block" : formatPlanTable(verdicts),
        )
      })
    })
}

/**
 * `compact --auto`, the threshold and cron activation: judge the dataset's whole partitions (as `plan`
 * does), and compact the ready ones, oldest first, up to the final tip. With `--min-blocks N` it does
 * nothing until at least N final blocks are uncompacted. Partitions that are not ready are reported,
 * never refused: a range that ends above the final tip has its final part done and the rest listed.
 * "Nothing to do" is a success (exit 0).
 */
import type { Config, Settings } from "./config.ts"
import { type Deps, openDataset } from "./dataset.ts"
import { CompactError, EXIT_CODES } from "./errors.ts"
import { shardFromSettings } from "./core/shard.ts"
import { formatRange } from "./core/range.ts"
import { type ManyOptions, partitionSizeOf, runMany } from "./backfill.ts"
import { buildReport, type RunReport } from "./report.ts"
import { surveyDataset, verdictsWithBeyond } from "./survey.ts"
import type { Verdict } from "./readiness.ts"

/** Runs an auto compaction as configured; the report carries the exit code. */
export async function autoCompact(settings: Settings, deps: Deps, options: ManyOptions): Promise<RunReport> {
  const started = performance.now()
  const startedAt = options.startedAt ?? Date.now()
  const size = partitionSizeOf(settings)
  const shard = shardFromSettings(settings)
  // the dataset needs no range: the survey picks it
  const config: Config = {
    ...settings,
    startBlock: settings.startBlock ?? 0n,
    endBlock: settings.endBlock ?? 0n,
  }
  const head = (note?: string) => ({
    command: "compact --auto" as const,
    range: settings.startBlock !== undefined && settings.endBlock !== undefined
      ? { first: settings.startBlock, last: settings.endBlock }
      : undefined,
    partitionSize: size,
    shard,
    seconds: (performance.now() - started) / 1000,
    note,
  })
  const none = { outcomes: [], notStarted: [] }
  const unattempted = (skipped: readonly Verdict[]) => ({
    skipped,
    notFinalCode: 0,
    deadlineCode: 0,
    benign: [EXIT_CODES.LOCKED], // another run took the partition since the survey: it is being done
  })
  let ds
  try {
    ds = await openDataset(config, deps)
  } catch (error) {
    if (!(error instanceof CompactError && error.code === "NOT_FINAL")) throw error
    // no tip at all: no block exists yet, so nothing can be ready
    const note = `nothing to do: ${error.message}`
    deps.log.info(`Nothing to do: ${error.message}`)
    const empty = { tip: -1n, threshold: 0n, finalTip: -1n, config }
    return buildReport({ ...head(note), ds: empty }, none, unattempted([]))
  }
  const survey = await surveyDataset(ds, {
    first: settings.startBlock,
    last: settings.endBlock,
    partitionSize: size,
    shard,
  })
  const skipped = verdictsWithBeyond(survey, ds.tip).filter((v) => v.status !== "ready")
  for (const v of skipped) {
    if (v.status === "committed") continue
    const line = `Partition ${v.key} not ready: ${v.reason}`
    if (v.status === "not-final" || v.status === "locked") deps.log.info(line, { partition: v.key })
    else deps.log.warn(line, { partition: v.key })
  }
  if (settings.minBlocks !== undefined && survey.finalUncompacted < settings.minBlocks) {
    const note = `nothing to do: ${survey.finalUncompacted} final blocks are uncompacted, fewer than ` +
      `--min-blocks ${settings.minBlocks}`
    deps.log.info(note.replace(/^n/, "N"))
    return buildReport({ ...head(note), ds }, none, unattempted([]))
  }
  const ready = survey.verdicts.filter((v) => v.status === "ready").map((v) => v.range)
  if (ready.length === 0) {
    const note = "nothing to do: no partition is ready"
    deps.log.info(`Nothing to do: no partition is ready (final tip ${ds.finalTip})`)
    return buildReport({ ...head(note), ds }, none, unattempted(skipped))
  }
  deps.log.info(
    `Compacting ${ready.length} ready partitions of ${config.dataset} of chain ${config.chainId} ` +
      `(${formatRange(ready[0]!)} to ${formatRange(ready.at(-1)!)}), ${config.concurrency} in flight, ` +
      `tip ${ds.tip}, final tip ${ds.finalTip}, to ${deps.store.description}`,
  )
  const loop = await runMany(ds, ready, options.progress(ready.length), config, options.signal, startedAt)
  return buildReport({ ...head(), ds }, loop, unattempted(skipped))
}

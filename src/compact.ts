/**
 * One compaction run over an explicit block range: open the dataset, check the whole range is final,
 * cut it into partitions, and compact each one (src/execute.ts) in order. The data-safety order of
 * each partition is described there.
 */
import type { Config } from "./config.ts"
import { type Deps, openDataset } from "./dataset.ts"
import { compactPartition, type PartitionSummary } from "./execute.ts"
import { blockRange, formatRange } from "./core/range.ts"
import { CompactError } from "./errors.ts"
import { planCompaction } from "./plan.ts"

export type { Deps } from "./dataset.ts"
export type { PartitionSummary } from "./execute.ts"

/** The result of a run (`--json` prints it). Block numbers are strings. */
export interface Summary {
  readonly chain_id: string
  readonly dataset: string
  readonly range: string
  readonly tip: string
  readonly final_tip: string
  readonly finality_threshold: string
  readonly dry_run: boolean
  readonly partitions: PartitionSummary[]
  readonly files: number
  readonly rows: number
  readonly bytes: number
  readonly seconds: number
  readonly rows_per_second: number
}

/** Runs a compaction as configured. Throws CompactError for refusals. */
export async function compact(config: Config, deps: Deps, signal?: AbortSignal): Promise<Summary> {
  const started = performance.now()
  const request = blockRange(config.startBlock, config.endBlock)
  const ds = await openDataset(config, deps)
  const plan = planCompaction({
    request,
    partitionSize: config.partitionSize,
    tip: ds.tip,
    threshold: ds.threshold,
  })
  deps.log.info(
    `Compacting ${config.dataset} of chain ${config.chainId}, blocks ${formatRange(request)} in ` +
      `${plan.partitions.length} partition(s), tip ${ds.tip}, final tip ${plan.finalTip}, to ${deps.store.description}`,
    { chain_id: config.chainId.toString(), dataset: config.dataset },
  )
  const results: PartitionSummary[] = []
  for (const range of plan.partitions) {
    if (signal?.aborted) {
      throw new CompactError(
        "INTERRUPTED",
        `Stopped before partition ${formatRange(range)}: a stop signal arrived; rerun to go on`,
      )
    }
    results.push(await compactPartition(ds, range, { signal }))
  }
  return summarize(config, ds.tip, plan.finalTip, ds.threshold, formatRange(request), results, started)
}

/** The run's summary from its partitions' summaries. */
export function summarize(
  config: Config,
  tip: bigint,
  finalTip: bigint,
  threshold: bigint,
  range: string,
  results: PartitionSummary[],
  started: number,
): Summary {
  const seconds = (performance.now() - started) / 1000
  const rows = results.reduce((n, r) => n + r.rows, 0)
  return {
    chain_id: config.chainId.toString(),
    dataset: config.dataset,
    range,
    tip: tip.toString(),
    final_tip: finalTip.toString(),
    finality_threshold: threshold.toString(),
    dry_run: config.dryRun,
    partitions: results,
    files: results.reduce((n, r) => n + r.files, 0),
    rows,
    bytes: results.reduce((n, r) => n + r.bytes, 0),
    seconds: Math.round(seconds * 1000) / 1000,
    rows_per_second: seconds > 0 ? Math.round(rows / seconds) : 0,
  }
}

/** One line per partition for people. */
export function formatSummary(s: Summary): string {
  const lines = s.partitions.map((p) =>
    `  ${p.partition_key}: ${p.action}, ${p.rows} rows in ${p.files} files (${p.bytes} bytes), ` +
    `${p.uploaded_files} uploaded, ${p.stale_files_deleted} stale deleted, ${p.hot_rows_deleted} hot rows deleted` +
    (p.note ? ` (${p.note})` : "")
  )
  return [
    `${
      s.dry_run ? "Planned" : "Done"
    }: ${s.dataset} of chain ${s.chain_id}, blocks ${s.range}, ${s.rows} rows, ` +
    `${s.files} files, ${s.bytes} bytes in ${s.seconds} s (${s.rows_per_second} rows/s)`,
    ...lines,
  ].join("\n")
}

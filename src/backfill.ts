/**
 * `backfill --from A --to B`: every whole aligned partition holding blocks A to B (this shard's share
 * when sharded), the final ones compacted `concurrency` at a time, oldest first. Resumable: the run
 * loop keeps a committed partition whose hot rows are unchanged without copying anything, so a rerun
 * only does what is left. Partitions above the final tip are reported, not attempted.
 */
import type { Config, Settings } from "./config.ts"
import { type Dataset, type Deps, openDataset } from "./dataset.ts"
import { EXIT_CODES } from "./errors.ts"
import { compactPartition } from "./execute.ts"
import type { Logger } from "./log.ts"
import { type BlockRange, blockRange, formatRange } from "./core/range.ts"
import { partitionsOfShard, type Shard, shardFromSettings } from "./core/shard.ts"
import { runPartitions } from "./loop.ts"
import type { Progress } from "./progress.ts"
import { classify, DEFAULT_PARTITION_SIZE, planWindow, type Verdict } from "./readiness.ts"
import { buildReport, type RunReport } from "./report.ts"

/** What a many-partition run needs beside its settings and dependencies. */
export interface ManyOptions {
  /** Aborted on SIGTERM/SIGINT: no new partition starts, the ones in flight stop before their commit. */
  readonly signal?: AbortSignal | undefined
  /** Makes the progress display once the number of partitions is known. */
  readonly progress: (total: number) => Progress
  /** When the run started (epoch ms): the deadline counts from here. */
  readonly startedAt?: number
}

/** The settings' partition size, or the default for plan, --auto and backfill. */
export const partitionSizeOf = (settings: Pick<Settings, "partitionSize">): bigint =>
  settings.partitionSize ?? DEFAULT_PARTITION_SIZE

/** Runs a backfill as configured (see the module comment); the report carries the exit code. */
export async function backfill(config: Config, deps: Deps, options: ManyOptions): Promise<RunReport> {
  const started = performance.now()
  const startedAt = options.startedAt ?? Date.now()
  const size = partitionSizeOf(config)
  const request = blockRange(config.startBlock, config.endBlock)
  const shard = shardFromSettings(config)
  const ds = await openDataset(config, deps)
  // partitions above the tip's bucket are not enumerated (a far --to must not list millions)
  const window = planWindow(request, size, ds.tip)
  const whole = window.partitions
  const mine = partitionsOfShard(whole, size, shard)
  const final = mine.filter((p) => p.last <= ds.finalTip)
  const notFinal = mine.filter((p) => p.last > ds.finalTip).map((p) => notFinalVerdict(ds, p))
  if (window.beyond) notFinal.push(notFinalVerdict(ds, window.beyond))
  const span = {
    first: (request.first / size) * size,
    last: window.beyond?.last ?? whole.at(-1)!.last,
  }
  deps.log.info(
    `Backfilling ${config.dataset} of chain ${config.chainId}, blocks ${formatRange(span)}` +
      (span.first !== request.first || span.last !== request.last
        ? ` (blocks ${formatRange(request)} rounded out to whole partitions)`
        : "") +
      `: ${mine.length} partitions of ${size} blocks${
        shardText(shard, whole.length)
      }, ${final.length} final, ` +
      `${config.concurrency} in flight, tip ${ds.tip}, final tip ${ds.finalTip}, to ${deps.store.description}`,
  )
  const progress = options.progress(final.length)
  const loop = await runMany(ds, final, progress, config, options.signal, startedAt)
  return buildReport(
    {
      command: "backfill",
      ds,
      range: span,
      partitionSize: size,
      shard,
      seconds: (performance.now() - started) / 1000,
    },
    loop,
    { skipped: notFinal, notFinalCode: EXIT_CODES.NOT_FINAL, deadlineCode: EXIT_CODES.RETRYABLE, benign: [] },
  )
}

/** Runs the partitions with progress: the run loop's own info lines give way to one line per partition. */
export async function runMany(
  ds: Dataset,
  ranges: readonly BlockRange[],
  progress: Progress,
  settings: Pick<Settings, "concurrency" | "timeoutSeconds">,
  signal: AbortSignal | undefined,
  startedAt: number,
) {
  const quiet: Logger = { info: () => {}, warn: progress.logger.warn, error: progress.logger.error }
  const inner: Dataset = { ...ds, deps: { ...ds.deps, log: quiet } }
  try {
    return await runPartitions(ranges, (range, s) => compactPartition(inner, range, { signal: s }), {
      concurrency: settings.concurrency,
      signal,
      deadline: settings.timeoutSeconds === undefined
        ? undefined
        : startedAt + settings.timeoutSeconds * 1000,
      onStart: () => progress.start(),
      onDone: (outcome) => progress.done(outcome),
    })
  } finally {
    progress.end()
  }
}

function notFinalVerdict(ds: Dataset, range: BlockRange): Verdict {
  return classify({ range, missing: [], locked: false }, {
    dataset: ds.config.dataset,
    tip: ds.tip,
    threshold: ds.threshold,
    schemaHash: ds.schema.hash,
    encoding: ds.encoding,
    deleteHot: false,
    mergeLate: false,
  })
}

const shardText = (shard: Shard | undefined, total: number) =>
  shard === undefined ? "" : ` (shard ${shard.index} of ${shard.count}; ${total} in all)`

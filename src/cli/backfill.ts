/**
 * The `backfill` subcommand: many whole partitions, `--concurrency` at a time, resumable, one shard of
 * them with `--shard-index/--shard-count` (or the AWS Batch and Kubernetes indexed-job variables), with
 * a progress bar on a terminal and a report at the end. See src/backfill.ts.
 */
import type { Command } from "@commander-js/extra-typings"
import { datasetOptions } from "./options.ts"
import { requireRange } from "../config.ts"
import { backfill } from "../backfill.ts"
import { printReport, progressFor, withDeps } from "./many.ts"
import { FROM_TO } from "./plan.ts"
import type { Session } from "./session.ts"

/** Exit codes of a many-partition run, for --help. */
export const MANY_EXIT_HELP = `
For many partitions, the most severe partition's code wins, in this order: 4, 2, 1, 5, 3:
  0    every partition done (compacted, or unchanged and skipped)
  4    a partition was refused for integrity (gap, overlap, late rows, mismatch)
  2    bad input or config
  1    a partition failed in a way worth retrying, or the deadline left partitions not started
  5    a partition was locked by another run
  3    some partitions are not final yet (the final ones were done)
  143  stopped by SIGTERM (130: SIGINT) before finishing; rerun the same command to resume`

/** Adds `backfill` to the program; `signal` aborts on SIGTERM/SIGINT; `done` takes the exit code. */
export function addBackfillCommand(
  root: Command,
  session: Session,
  signal: AbortSignal | undefined,
  done: (code: number) => void,
): void {
  datasetOptions(
    root
      .command("backfill")
      .description(
        "Compact every whole partition holding blocks --from to --to, --concurrency at a time; a rerun skips " +
          "committed, unchanged partitions; --shard-index/--shard-count split the work across machines",
      ),
  )
    .option("--from <block>", "first block (rounded down to a partition boundary)")
    .option("--to <block>", "last block (rounded up to a partition boundary)")
    .option("--partition-size <blocks>", "blocks per aligned partition (default 100000)")
    .option("--concurrency <k>", "partitions in flight (default 1)")
    .option(
      "--shard-index <i>",
      "this machine's shard, 0-based (or AWS_BATCH_JOB_ARRAY_INDEX, JOB_COMPLETION_INDEX)",
    )
    .option(
      "--shard-count <n>",
      "number of shards (or AWS_BATCH_JOB_ARRAY_SIZE, PARQUET_COMPACT_SHARD_COUNT)",
    )
    .option("--timeout-seconds <seconds>", "start no new partition after this many seconds")
    .option("--chunk-size <rows>", "rows per Parquet file (default 10000)")
    .option("--row-group-size <rows>", "rows per row group (default: min(chunk size, 100000))")
    .option(
      "--page-version <1|2>",
      "Parquet data page format: 1 reads everywhere (default), 2 only by choice",
    )
    .option("--uuid-as <uuid|binary>", "uuid columns as the UUID type (default) or plain 16-byte binary")
    .option("--delete-after-compact", "delete the compacted hot rows once cold storage is verified")
    .option("--merge-late", "add late hot rows of a committed partition to it as new files")
    .option("--order-by <columns>", "comma-separated row order (default: the primary key)")
    .option("--lock-timeout <seconds>", "how long to wait for the manifest commit lock (default 60)")
    .addHelpText("after", MANY_EXIT_HELP)
    .action(async (options) => {
      const startedAt = Date.now()
      const config = requireRange(await session.settings(options, FROM_TO), FROM_TO)
      const report = await withDeps(
        config,
        session,
        (deps) => backfill(config, deps, { signal, progress: progressFor(session), startedAt }),
      )
      done(printReport(report, config, session, signal))
    })
}

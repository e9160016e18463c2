/**
 * The result of a many-partition run (`compact --auto`, `backfill`): one entry per partition, counts,
 * totals, why it stopped, and the exit code that stands for all of it. Pure: built from the loop's
 * outcomes and what was not attempted. `--json` prints it; people get {@link formatReport}.
 */
import type { Dataset } from "./dataset.ts"
import { EXIT_CODES } from "./errors.ts"
import type { PartitionSummary } from "./execute.ts"
import { partitionKey } from "./core/naming.ts"
import type { BlockRange } from "./core/range.ts"
import type { Shard } from "./core/shard.ts"
import { type LoopResult, worstExitCode } from "./loop.ts"
import type { Verdict } from "./readiness.ts"

/** One partition in a report. */
export interface PartitionReport {
  readonly partition_key: string
  /** The run loop's action, or failed, not-started, or a readiness status (not-final, gap, …). */
  readonly status: string
  readonly rows: number
  readonly files: number
  readonly bytes: number
  readonly seconds: number
  readonly note?: string
  readonly exit_code?: number
}

/** A many-partition run's result. Block numbers are strings. */
export interface RunReport {
  readonly command: "compact --auto" | "backfill"
  readonly chain_id: string
  readonly dataset: string
  readonly range: string | null
  readonly partition_size: string
  readonly shard: Shard | null
  readonly tip: string
  readonly final_tip: string
  readonly finality_threshold: string
  readonly partitions: readonly PartitionReport[]
  readonly counts: Readonly<Record<string, number>>
  readonly rows: number
  readonly files: number
  readonly bytes: number
  readonly seconds: number
  readonly rows_per_second: number
  readonly stopped_by: "signal" | "deadline" | null
  readonly exit_code: number
  /** Why nothing was compacted, when nothing was ("nothing to do: …"). */
  readonly note: string | null
}

/** What the run did not attempt, beside the loop's result. */
export interface Unattempted {
  /** Partitions judged not ready (auto), or not final (backfill). */
  readonly skipped: readonly Verdict[]
  /** Exit codes that the skipped partitions and a deadline stand for (auto: none; backfill: 3, 1). */
  readonly notFinalCode: number
  readonly deadlineCode: number
  /** Failure codes that count as skipped, not failed (auto: LOCKED, another run got there first). */
  readonly benign: readonly number[]
}

const summaryEntry = (s: PartitionSummary): PartitionReport => ({
  partition_key: s.partition_key,
  status: s.action,
  rows: s.rows,
  files: s.files,
  bytes: s.bytes,
  seconds: s.seconds,
  ...(s.note === undefined ? {} : { note: s.note }),
})

const empty = (key: string, status: string, note?: string, exitCode?: number): PartitionReport => ({
  partition_key: key,
  status,
  rows: 0,
  files: 0,
  bytes: 0,
  seconds: 0,
  ...(note === undefined ? {} : { note }),
  ...(exitCode === undefined ? {} : { exit_code: exitCode }),
})

/** Builds the report and its exit code (the README's table for many-partition runs). */
export function buildReport(
  head: {
    command: RunReport["command"]
    ds: Pick<Dataset, "tip" | "threshold" | "finalTip"> & { config: { chainId: bigint; dataset: string } }
    range: BlockRange | undefined
    partitionSize: bigint
    shard: Shard | undefined
    seconds: number
    note?: string | undefined
  },
  loop: LoopResult,
  rest: Unattempted,
): RunReport {
  const entries: PartitionReport[] = []
  const codes: number[] = []
  for (const o of loop.outcomes) {
    if (o.ok) entries.push(summaryEntry(o.summary))
    else if (rest.benign.includes(o.exitCode)) entries.push(empty(o.key, "skipped", o.message))
    else {
      entries.push(
        empty(o.key, o.exitCode === EXIT_CODES.INTERRUPTED ? "interrupted" : "failed", o.message, o.exitCode),
      )
      if (o.exitCode !== EXIT_CODES.INTERRUPTED) codes.push(o.exitCode)
    }
  }
  for (const r of loop.notStarted) entries.push(empty(partitionKey(r), "not-started"))
  for (const v of rest.skipped) entries.push(empty(v.key, v.status, v.reason))
  entries.sort((a, b) => compareKeys(a.partition_key, b.partition_key))
  if (rest.skipped.length > 0) codes.push(rest.notFinalCode)
  if (loop.stoppedBy === "deadline" && loop.notStarted.length > 0) codes.push(rest.deadlineCode)
  const counts: Record<string, number> = {}
  for (const e of entries) counts[e.status] = (counts[e.status] ?? 0) + 1
  const rows = entries.reduce((n, e) => n + e.rows, 0)
  return {
    command: head.command,
    chain_id: head.ds.config.chainId.toString(),
    dataset: head.ds.config.dataset,
    range: head.range ? `${head.range.first}-${head.range.last}` : null,
    partition_size: head.partitionSize.toString(),
    shard: head.shard ?? null,
    tip: head.ds.tip.toString(),
    final_tip: head.ds.finalTip.toString(),
    finality_threshold: head.ds.threshold.toString(),
    partitions: entries,
    counts,
    rows,
    files: entries.reduce((n, e) => n + e.files, 0),
    bytes: entries.reduce((n, e) => n + e.bytes, 0),
    seconds: Math.round(head.seconds * 1000) / 1000,
    rows_per_second: head.seconds > 0 ? Math.round(rows / head.seconds) : 0,
    stopped_by: loop.stoppedBy ?? null,
    exit_code: loop.stoppedBy === "signal" ? EXIT_CODES.INTERRUPTED : worstExitCode(codes),
    note: head.note ?? null,
  }
}

function compareKeys(a: string, b: string): number {
  const x = BigInt(a.split("-")[0]!)
  const y = BigInt(b.split("-")[0]!)
  return x < y ? -1 : x > y ? 1 : 0
}

/** The report for people: one summary line, then one line per partition that did not succeed. */
export function formatReport(r: RunReport): string {
  const what =
    `${r.command === "backfill" ? "Backfill" : "Auto compaction"} of ${r.dataset} of chain ${r.chain_id}` +
    (r.range ? `, blocks ${r.range}` : "") + ` (partitions of ${r.partition_size} blocks` +
    (r.shard ? `, shard ${r.shard.index} of ${r.shard.count}` : "") + ")"
  const counts = Object.entries(r.counts).map(([k, n]) => `${n} ${k}`).join(", ") || "no partitions"
  if (r.note !== null && r.partitions.length === 0) return `${what}: ${r.note}`
  const lines = [
    `${what}: ${counts}; ${r.rows} rows, ${r.files} files, ${r.bytes} bytes in ${r.seconds} s ` +
    `(${r.rows_per_second} rows/s); tip ${r.tip}, final tip ${r.final_tip}`,
  ]
  const OK = new Set(["compacted", "merged", "unchanged", "kept", "planned", "committed"])
  for (const p of r.partitions) {
    if (OK.has(p.status) || p.status === "not-started") continue
    lines.push(
      `  ${p.partition_key}: ${p.status}${p.exit_code ? ` (exit ${p.exit_code})` : ""}${
        p.note ? `: ${p.note}` : ""
      }`,
    )
  }
  if (r.note !== null) lines.push(r.note)
  const left = r.counts["not-started"] ?? 0
  if (r.stopped_by === "signal") {
    lines.push(`Stopped by a signal with ${left} partitions not started; rerun the same command to resume`)
  } else if (r.stopped_by === "deadline") {
    lines.push(`Deadline reached with ${left} partitions not started; the next run goes on from there`)
  }
  return lines.join("\n")
}

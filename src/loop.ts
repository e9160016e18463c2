/**
 * Runs many partitions: oldest first, at most `concurrency` in flight, each one on its own (a failed
 * partition is recorded and the others go on). New partitions stop starting once the abort signal
 * fires (SIGTERM, SIGINT) or the deadline passes; partitions in flight are left to the run loop,
 * which stops before its commit when aborted. No I/O of its own: `work` does it.
 */
import type { PartitionSummary } from "./execute.ts"
import { CompactError, EXIT_CODES, exitCodeOf } from "./errors.ts"
import { partitionKey } from "./core/naming.ts"
import type { BlockRange } from "./core/range.ts"

/** How one partition ended. */
export type Outcome =
  | {
    readonly range: BlockRange
    readonly key: string
    readonly ok: true
    readonly summary: PartitionSummary
  }
  | {
    readonly range: BlockRange
    readonly key: string
    readonly ok: false
    readonly error: unknown
    readonly exitCode: number
    readonly message: string
  }

/** When to stop starting partitions, and whom to tell. */
export interface LoopOptions {
  readonly concurrency: number
  readonly signal?: AbortSignal | undefined
  /** Epoch milliseconds after which no partition starts. */
  readonly deadline?: number | undefined
  readonly now?: () => number
  readonly onStart?: (range: BlockRange) => void
  readonly onDone?: (outcome: Outcome) => void
}

/** What a loop did. `notStarted` is what the signal or the deadline left for a rerun. */
export interface LoopResult {
  readonly outcomes: readonly Outcome[]
  readonly notStarted: readonly BlockRange[]
  readonly stoppedBy?: "signal" | "deadline" | undefined
}

/** Runs `work` over `ranges` in order with a pool of `concurrency` (see the module comment). */
export async function runPartitions(
  ranges: readonly BlockRange[],
  work: (range: BlockRange, signal: AbortSignal | undefined) => Promise<PartitionSummary>,
  options: LoopOptions,
): Promise<LoopResult> {
  const now = options.now ?? Date.now
  const outcomes: Outcome[] = []
  let next = 0
  let stoppedBy: LoopResult["stoppedBy"]
  const take = (): BlockRange | undefined => {
    if (stoppedBy !== undefined || next >= ranges.length) return undefined
    if (options.signal?.aborted) stoppedBy = "signal"
    else if (options.deadline !== undefined && now() >= options.deadline) stoppedBy = "deadline"
    return stoppedBy === undefined ? ranges[next++] : undefined
  }
  const worker = async () => {
    for (let range = take(); range !== undefined; range = take()) {
      const key = partitionKey(range)
      options.onStart?.(range)
      let outcome: Outcome
      try {
        outcome = { range, key, ok: true, summary: await work(range, options.signal) }
      } catch (error) {
        outcome = {
          range,
          key,
          ok: false,
          error,
          exitCode: exitCodeOf(error),
          message: error instanceof Error ? error.message : String(error),
        }
      }
      outcomes.push(outcome)
      options.onDone?.(outcome)
    }
  }
  const width = Math.max(1, Math.min(options.concurrency, ranges.length))
  await Promise.all(Array.from({ length: width }, worker))
  outcomes.sort((a, b) => (a.range.first < b.range.first ? -1 : a.range.first > b.range.first ? 1 : 0))
  // a signal that came while the last partitions ran still counts when one of them stopped for it
  if (stoppedBy === undefined && outcomes.some((o) => !o.ok && isInterrupted(o.error))) stoppedBy = "signal"
  return { outcomes, notStarted: ranges.slice(next), stoppedBy }
}

/** Whether an error is the run loop stopping for a signal. */
export const isInterrupted = (error: unknown): boolean =>
  error instanceof CompactError && error.code === "INTERRUPTED"

/**
 * Severity of exit codes, most severe first: integrity (investigate) before bad input (fix the config)
 * before retryable before locked and not final (retry later).
 */
export const SEVERITY: readonly number[] = [
  EXIT_CODES.INTEGRITY,
  EXIT_CODES.BAD_INPUT,
  EXIT_CODES.RETRYABLE,
  EXIT_CODES.LOCKED,
  EXIT_CODES.NOT_FINAL,
]

/** The exit code that stands for several: the most severe in {@link SEVERITY}, else the first; 0 for none. */
export function worstExitCode(codes: readonly number[]): number {
  const failing = codes.filter((c) => c !== 0)
  for (const code of SEVERITY) if (failing.includes(code)) return code
  return failing[0] ?? 0
}

/**
 * Progress of a many-partition run. On a terminal: one bar redrawn in place (partitions done of
 * total, rows/s, ETA). Otherwise: one log line per partition (a JSON line when logs are JSON) with
 * its outcome, rows, bytes and seconds. The formatting functions are pure; the time is a parameter.
 */
import { EXIT_CODES } from "./errors.ts"
import type { Logger } from "./log.ts"
import type { Outcome } from "./loop.ts"

/** Counters shown by the bar. */
export interface ProgressState {
  readonly total: number
  readonly done: number
  readonly failed: number
  readonly inFlight: number
  readonly rows: number
  readonly seconds: number
}

/** `1h02m`, `4m05s`, `12s`; `?` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?"
  const s = Math.round(seconds)
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${s}s`
}

/** Seconds left at the rate partitions have finished so far; undefined before the first one. */
export function eta(state: ProgressState): number | undefined {
  const finished = state.done + state.failed
  if (finished === 0 || state.seconds <= 0) return undefined
  return ((state.total - finished) * state.seconds) / finished
}

/** One line: `[#######.............]  12/60 partitions, 1 failed, 2 running  45,000 rows/s  ETA 1m20s`. */
export function formatBar(state: ProgressState, width = 24): string {
  const finished = state.done + state.failed
  const filled = state.total === 0 ? width : Math.floor((finished / state.total) * width)
  const rate = state.seconds > 0 ? Math.round(state.rows / state.seconds) : 0
  const left = eta(state)
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${finished}/${state.total} partitions` +
    (state.failed > 0 ? `, ${state.failed} failed` : "") +
    (state.inFlight > 0 ? `, ${state.inFlight} running` : "") +
    `  ${rate.toLocaleString("en-US")} rows/s  ETA ${left === undefined ? "?" : formatDuration(left)}`
}

/** Where progress goes. */
export interface ProgressOptions {
  readonly total: number
  /** `bar`: redraw one line on a terminal; `lines`: one log line per partition. */
  readonly mode: "bar" | "lines"
  /** Writes one line to the terminal (stderr); used by the bar. */
  readonly write: (line: string) => void
  readonly logger: Logger
  readonly now?: () => number
}

/** What the loops tell the progress display. */
export interface Progress {
  start(): void
  done(outcome: Outcome): void
  /** A logger that prints above the bar (for warnings of the partitions in flight). */
  readonly logger: Logger
  /** Removes the bar, before the final summary. */
  end(): void
  state(): ProgressState
}

const INTERRUPTED = EXIT_CODES.INTERRUPTED // stopped by a signal: not a failure

// cursor up one line and erase it: the bar is redrawn over itself
const ERASE_UP = "\x1b[1A\x1b[2K"

/** A progress display (see the module comment). */
export function createProgress(options: ProgressOptions): Progress {
  const now = options.now ?? (() => performance.now())
  const started = now()
  let done = 0
  let failed = 0
  let inFlight = 0
  let rows = 0
  let shown = false
  const state = (): ProgressState => ({
    total: options.total,
    done,
    failed,
    inFlight,
    rows,
    seconds: (now() - started) / 1000,
  })
  const draw = () => {
    if (options.mode !== "bar") return
    options.write((shown ? ERASE_UP : "") + formatBar(state()))
    shown = true
  }
  const clear = () => {
    if (!shown) return
    // up to the bar, erase it, up once more: the newline after this lands on the erased line
    options.write(ERASE_UP + "\x1b[1A")
    shown = false
  }
  const above =
    (write: (msg: string, fields?: Record<string, unknown>) => void) =>
    (msg: string, fields?: Record<string, unknown>) => {
      clear()
      write(msg, fields)
      draw()
    }
  return {
    start() {
      inFlight++
      draw()
    },
    done(outcome) {
      inFlight = Math.max(0, inFlight - 1)
      if (outcome.ok) {
        done++
        rows += outcome.summary.rows
      } else failed++
      if (options.mode === "lines") {
        const s = state()
        const progress = { done: s.done + s.failed, total: s.total }
        if (outcome.ok) {
          const { partition_key, action, ...rest } = outcome.summary
          options.logger.info(`Partition ${partition_key}: ${action}, ${rest.rows} rows`, {
            partition: partition_key,
            action,
            ...rest,
            ...progress,
          })
        } else {
          const stopped = outcome.exitCode === INTERRUPTED
          ;(stopped ? options.logger.warn : options.logger.error)(
            `Partition ${outcome.key}: ${
              stopped ? "interrupted" : "failed"
            } (exit ${outcome.exitCode}): ${outcome.message}`,
            {
              partition: outcome.key,
              action: stopped ? "interrupted" : "failed",
              exit_code: outcome.exitCode,
              ...progress,
            },
          )
        }
      } else {
        if (!outcome.ok && outcome.exitCode !== INTERRUPTED) {
          above(options.logger.error)(`Partition ${outcome.key}: failed: ${outcome.message}`)
        }
        draw()
      }
    },
    logger: {
      info: above(options.logger.info),
      warn: above(options.logger.warn),
      error: above(options.logger.error),
    },
    end() {
      if (options.mode === "bar" && shown) {
        options.write(ERASE_UP + formatBar(state())) // the last bar stays on screen
      }
      shown = false
    },
    state,
  }
}

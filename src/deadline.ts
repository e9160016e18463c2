/**
 * Bounded waits: every wait on a server (a lock session's query, a body that stops arriving) goes
 * through here, so that a lost connection or a stalled peer ends a run with an error instead of
 * hanging it. The timers are not unref'd on purpose: while a wait is pending, its deadline is what
 * keeps the process alive, so a dead socket cannot let the process drift out with the run unfinished.
 */

/**
 * Settles as `promise` does, or rejects with `onTimeout()` once `ms` milliseconds have passed
 * first. The promise itself is not cancelled (pass `onTimeout` a way to abort it); its later
 * rejection is marked handled, so it cannot crash the process.
 *
 * @example
 * const [row] = await withDeadline(session`SELECT 1`, 5_000, () => new Error("Cannot reach Postgres"))
 */
export function withDeadline<T>(promise: PromiseLike<T>, ms: number, onTimeout: () => unknown): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms)
  })
  const work = Promise.resolve(promise)
  work.catch(() => {}) // a rejection after the deadline is not this caller's to see
  return Promise.race([work, expired]).finally(() => clearTimeout(timer))
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * An idle timer for streams: `touch()` on every chunk; `expired` rejects with `onIdle()` when no
 * touch came for `ms` milliseconds. `stop()` clears it; call it in a `finally`.
 */
export function idleTimer(ms: number, onIdle: () => unknown): {
  touch(): void
  stop(): void
  readonly expired: Promise<never>
} {
  let timer: ReturnType<typeof setTimeout> | undefined
  let fire: (reason: unknown) => void = () => {}
  const expired = new Promise<never>((_, reject) => (fire = reject))
  expired.catch(() => {}) // only callers that race it see the rejection
  const touch = () => {
    clearTimeout(timer)
    timer = setTimeout(() => fire(onIdle()), ms)
  }
  touch()
  return { touch, stop: () => clearTimeout(timer), expired }
}

/** Small helpers shared by the reliability tests. */

/** Runs `run` and returns its value or error and how long it took (milliseconds). */
export async function timed<T>(run: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = performance.now()
  try {
    return { value: await run(), ms: performance.now() - t0 }
  } catch (error) {
    return { error, ms: performance.now() - t0 }
  }
}

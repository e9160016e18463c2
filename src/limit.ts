/** Bounded concurrency for independent reads (footers, hashes, sizes). */

/**
 * Maps `items` through `fn` with at most `limit` calls in flight, keeping the order. The first
 * failure is thrown once the calls in flight have settled, and no further call starts after it.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  let failure: { error: unknown } | undefined // the first in time
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++
      try {
        out[i] = await fn(items[i]!)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure) throw failure.error
  return out
}

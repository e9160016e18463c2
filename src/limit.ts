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
  let failed = false
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++
      try {
        out[i] = await fn(items[i]!)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  const workers = Array.from({ length: Math.min(limit, items.length) }, worker)
  const settled = await Promise.allSettled(workers)
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected")
  if (failure) throw failure.reason
  return out
}

/**
 * The pure core of parquet_compact: block ranges, finality, object naming and the manifest model.
 * Imports nothing but zod and the error class; no I/O.
 *
 * @example
 * ```ts
 * import { blockRange, finalityThreshold, finalTip, planFinalPartitions } from "./mod.ts"
 * const tip = finalTip(25_500n, finalityThreshold(10143n)) // 25400n
 * planFinalPartitions(blockRange(0n, 30_000n), 10_000n, tip) // [0-9999, 10000-19999]
 * ```
 */
export * from "./range.ts"
export * from "./finality.ts"
export * from "./naming.ts"
export * from "./manifest.ts"

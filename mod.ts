/**
 * parquet_compact as a library: the pure core, the compaction run and its adapters.
 * Re-exports only; see ARCHITECTURE.md for what each file does.
 *
 * @example
 * ```ts
 * import { compact, lineLogger, LocalStore, openDatabase, validateConfig } from "./mod.ts"
 * const config = validateConfig({ chainId: "10143", dataset: "blocks", startBlock: "0", endBlock: "99", dest: "file:///tmp/cold" })
 * const sql = openDatabase(process.env.DATABASE_URL)
 * await compact(config, { sql, store: new LocalStore("/tmp/cold"), prefix: "", log: lineLogger(console.error) })
 * ```
 */
export * from "./src/core/mod.ts"
export { CompactError, type ErrorCode, EXIT_CODES, exitCodeOf } from "./src/errors.ts"
export {
  type Config,
  configFromEnv,
  mergeLayers,
  parseConfigFile,
  type RawConfig,
  validateConfig,
} from "./src/config.ts"
export { type Plan, planCompaction, resolveTip } from "./src/plan.ts"
export { decidePartition, type PartitionPlan, type PartitionState } from "./src/core/decide.ts"
export { compact, type Deps, formatSummary, type PartitionSummary, type Summary } from "./src/compact.ts"
export { type Destination, openStore, parseDestination } from "./src/destination.ts"
export { openDatabase, type Sql } from "./src/pg/hot.ts"
export { ConditionFailed, type ObjectStore } from "./src/store/store.ts"
export { LocalStore } from "./src/store/local.ts"
export { type S3Options, S3Store } from "./src/store/s3.ts"
export { VERSION } from "./src/version.ts"
export { lineLogger, type Logger } from "./src/log.ts"
export { compactPartition, STEPS } from "./src/execute.ts"
export { type Dataset, openDataset } from "./src/dataset.ts"

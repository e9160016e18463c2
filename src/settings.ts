/**
 * The table of settings the job takes and how each is spelled: camelCase key in code,
 * `--kebab-case` flag, `PARQUET_COMPACT_SNAKE_CASE` environment variable, `snake_case` file key.
 * Below both src/config.ts (validation) and src/config-file.ts (files), so neither imports the other.
 */

/** Every setting key. */
export type SettingKey =
  | "chainId"
  | "dataset"
  | "startBlock"
  | "endBlock"
  | "chunkSize"
  | "partitionSize"
  | "deleteAfterCompact"
  | "mergeLate"
  | "dest"
  | "finalityThreshold"
  | "tip"
  | "sourceTable"
  | "blocksTable"
  | "blockColumn"
  | "chainColumn"
  | "orderBy"
  | "rowGroupSize"
  | "pageVersion"
  | "uuidAs"
  | "databaseUrl"
  | "s3Endpoint"
  | "s3Region"
  | "s3ForcePathStyle"
  | "lockTimeout"
  | "dryRun"
  | "json"
  | "auto"
  | "minBlocks"
  | "timeoutSeconds"
  | "logFormat"
  | "concurrency"
  | "shardIndex"
  | "shardCount"

/** One setting: its camelCase key and the kind of value it takes. */
export interface Setting {
  readonly key: SettingKey
  readonly kind: "bigint" | "int" | "bool" | "string"
}

/** Every setting the job takes, in the order `--help` lists them. */
export const SETTINGS: readonly Setting[] = [
  { key: "chainId", kind: "bigint" },
  { key: "dataset", kind: "string" },
  { key: "startBlock", kind: "bigint" },
  { key: "endBlock", kind: "bigint" },
  { key: "chunkSize", kind: "int" },
  { key: "partitionSize", kind: "bigint" },
  { key: "deleteAfterCompact", kind: "bool" },
  { key: "mergeLate", kind: "bool" },
  { key: "dest", kind: "string" },
  { key: "finalityThreshold", kind: "bigint" },
  { key: "tip", kind: "bigint" },
  { key: "sourceTable", kind: "string" },
  { key: "blocksTable", kind: "string" },
  { key: "blockColumn", kind: "string" },
  { key: "chainColumn", kind: "string" },
  { key: "orderBy", kind: "string" },
  { key: "rowGroupSize", kind: "int" },
  { key: "pageVersion", kind: "int" },
  { key: "uuidAs", kind: "string" },
  { key: "databaseUrl", kind: "string" },
  { key: "s3Endpoint", kind: "string" },
  { key: "s3Region", kind: "string" },
  { key: "s3ForcePathStyle", kind: "bool" },
  { key: "lockTimeout", kind: "int" },
  { key: "dryRun", kind: "bool" },
  { key: "json", kind: "bool" },
  { key: "auto", kind: "bool" },
  { key: "minBlocks", kind: "bigint" },
  { key: "timeoutSeconds", kind: "int" },
  { key: "logFormat", kind: "string" },
  { key: "concurrency", kind: "int" },
  { key: "shardIndex", kind: "int" },
  { key: "shardCount", kind: "int" },
]

/** Settings before validation: strings from env and flags, anything from a file. */
export type RawConfig = Partial<Record<SettingKey, unknown>>

/** The file key of a setting: `chainId` -> `chain_id`. */
export const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())
/** The flag of a setting: `chainId` -> `--chain-id`. */
export const flagName = (key: string): string => "--" + snake(key).replaceAll("_", "-")
/** The environment variable of a setting: `chainId` -> `PARQUET_COMPACT_CHAIN_ID`. */
export const envName = (key: string): string => "PARQUET_COMPACT_" + snake(key).toUpperCase()

/**
 * The run's configuration: flags, `PARQUET_COMPACT_*` environment variables and a config file
 * (YAML or JSON: flat, one DAG node, or the DAG's list of nodes) merged in that order of precedence
 * over defaults, then validated once by a zod schema. Nothing else in the program reads the
 * environment, except the Postgres and AWS clients for their own standard variables.
 */
import { z } from "zod"
import { CompactError } from "./errors.ts"
import { envName, flagName, type RawConfig, type SettingKey, SETTINGS } from "./settings.ts"

export { envName, type RawConfig, type SettingKey, SETTINGS } from "./settings.ts"
export { parseConfigFile } from "./config-file.ts"

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/
const identifier = z.string().regex(IDENT, "must be a lower-case SQL identifier like hot_blocks")
const qualified = z.string().regex(
  /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/,
  "must be a lower-case table name, optionally schema-qualified, like public.hot_logs",
)
const whole = z.string().regex(/^\d+$/, "must be a whole number")
const block = z.union([z.bigint(), z.number().int(), whole])
  .transform((v) => BigInt(v)).pipe(z.bigint().min(0n))
const count = (min: number, max: number) =>
  z.union([z.bigint().transform(Number), z.number().int(), whole.transform(Number)])
    .pipe(z.number().int().min(min).max(max))
const bool = z.union([
  z.boolean(),
  z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => /^(true|1|yes)$/.test(v)),
])

const schema = z.object({
  chainId: block,
  dataset: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, "must match [a-z][a-z0-9_]* like blocks or logs"),
  startBlock: block.optional(), // inclusive; required unless the run picks its own ranges
  endBlock: block.optional(), // inclusive
  chunkSize: count(1, 100_000_000).default(10_000),
  partitionSize: block.pipe(z.bigint().min(1n)).optional(),
  deleteAfterCompact: bool.default(false),
  mergeLate: bool.default(false), // add late hot rows of a committed partition to it as new files
  dest: z.string().regex(
    /^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?|file:\/\/\/.+)$/,
    "must be s3://BUCKET/PREFIX or file:///DIR",
  ),
  finalityThreshold: block.optional(),
  tip: block.optional(),
  sourceTable: qualified,
  blocksTable: qualified.default("hot_blocks"),
  blockColumn: identifier.default("block_number"),
  chainColumn: identifier.optional(), // undefined: filter by "chain_id" when the table has it
  orderBy: z.string().transform((s) => s.split(",").map((c) => c.trim())).pipe(z.array(identifier).min(1))
    .optional(),
  rowGroupSize: count(1, 100_000_000).optional(),
  pageVersion: z.union(
    [z.literal(1), z.literal(2), z.enum(["1", "2"]).transform(Number)],
    "must be 1 (DATA_PAGE) or 2 (DATA_PAGE_V2)",
  ).default(1)
    .pipe(z.union([z.literal(1), z.literal(2)])), // DATA_PAGE v1 reads everywhere; v2 only by choice
  uuidAs: z.enum(["uuid", "binary"], "must be uuid or binary").default("uuid"), // binary: for readers without the UUID type (Spark 4.0)
  databaseUrl: z.string().optional(),
  s3Endpoint: z.string().url().optional(),
  s3Region: z.string().optional(),
  s3ForcePathStyle: bool.default(false),
  lockTimeout: count(0, 86_400).default(60), // seconds to wait for the manifest commit lock
  dryRun: bool.default(false),
  json: bool.default(false),
  auto: bool.default(false), // compact the ready partitions up to the final tip (reactive, cron)
  minBlocks: block.optional(), // auto: do nothing until this many final, uncompacted blocks exist
  timeoutSeconds: count(1, 31_536_000).optional(), // start no new partition after this many seconds
  logFormat: z.enum(["auto", "human", "json"], "must be auto, human or json").default("auto"),
  concurrency: count(1, 256).default(1), // partitions in flight
  shardIndex: count(0, 99_999).optional(), // 0-based; with shardCount
  shardCount: count(1, 100_000).optional(),
})

/**
 * Validated settings of any command. The block range is optional here: `compact --auto`, `plan`
 * and `backfill` may pick their own ranges. Block numbers are bigint, counts are numbers.
 */
export type Settings = z.output<typeof schema>

/** The configuration of one run over an explicit inclusive range (what `compact()` takes). */
export type Config = Settings & { readonly startBlock: bigint; readonly endBlock: bigint }

/** How {@link validateSettings} treats the block range. */
export interface RangeRule {
  /** Whether the range may be left out even without `auto` (plan, backfill). Default false. */
  readonly optional?: boolean
  /** Flags that spell startBlock/endBlock for this command, for messages (`--from`, `--to`). */
  readonly flags?: { readonly startBlock: string; readonly endBlock: string }
}

/** The environment variables AWS Batch and Kubernetes set for array and indexed jobs. */
export const SHARD_ENV = {
  index: ["AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX"],
  count: ["AWS_BATCH_JOB_ARRAY_SIZE"],
} as const

/** The settings found in `PARQUET_COMPACT_*` variables and the standard ones they default from. */
export function configFromEnv(env: Record<string, string | undefined>): RawConfig {
  const raw: Record<string, unknown> = {}
  for (const { key } of SETTINGS) {
    const value = env[envName(key)]
    if (value !== undefined && value !== "") raw[key] = value
  }
  const first = (names: readonly string[]) =>
    names.map((n) => env[n]).find((v) => v !== undefined && v !== "")
  raw.databaseUrl ??= env.DATABASE_URL || undefined
  raw.s3Endpoint ??= env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined
  raw.shardIndex ??= first(SHARD_ENV.index)
  raw.shardCount ??= first(SHARD_ENV.count)
  return raw as RawConfig
}

/** Merges layers, later ones winning, skipping unset values. */
export function mergeLayers(...layers: RawConfig[]): RawConfig {
  const out: Record<string, unknown> = {}
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) if (value !== undefined) out[key] = value
  }
  return out as RawConfig
}

/** One line naming the flag, the variable and the file; never echoes the database URL. */
function refusal(key: SettingKey, what: string, value: unknown, flag = flagName(key)): CompactError {
  const shown = key === "databaseUrl" || value === undefined ? "" : ` (got ${JSON.stringify(String(value))})`
  const standard = key === "shardCount" ? SHARD_ENV.count : key === "shardIndex" ? SHARD_ENV.index : []
  const where = [flag, envName(key), ...standard, "the config file"]
  return new CompactError(
    "BAD_INPUT",
    `Cannot start: ${flag} ${what}${shown}; set it with ${where.slice(0, -1).join(", ")} or ${where.at(-1)}`,
  )
}

/**
 * Validates merged settings; the first problem becomes one BAD_INPUT line. The range is required
 * unless `auto` is on or `rule.optional`; a shard index needs a shard count and stays below it.
 */
export function validateSettings(raw: RawConfig, rule: RangeRule = {}): Settings {
  const input: Record<string, unknown> = {
    ...raw,
    sourceTable: raw.sourceTable ?? (raw.dataset ? `hot_${raw.dataset}` : undefined),
  }
  const flag = (key: SettingKey) => (rule.flags as Record<string, string> | undefined)?.[key] ?? flagName(key)
  const result = schema.safeParse(input)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const key = String(issue.path[0] ?? "config") as SettingKey
    const value = input[key]
    throw refusal(key, value === undefined ? "is required" : issue.message, value, flag(key))
  }
  const s = result.data
  if (!s.auto && !rule.optional) {
    for (const key of ["startBlock", "endBlock"] as const) {
      if (s[key] === undefined) throw refusal(key, "is required", undefined, flag(key))
    }
  }
  if (s.startBlock !== undefined && s.endBlock !== undefined && s.startBlock > s.endBlock) {
    throw refusal(
      "startBlock",
      `must not be after ${flag("endBlock")} ${s.endBlock}`,
      s.startBlock,
      flag("startBlock"),
    )
  }
  if (s.shardIndex !== undefined && s.shardCount === undefined) {
    throw refusal(
      "shardCount",
      `is required with a shard index (from --shard-index, ${envName("shardIndex")}, ${
        SHARD_ENV.index.join(" or ")
      })`,
      undefined,
    )
  }
  if (s.shardCount !== undefined && s.shardIndex === undefined) {
    throw refusal("shardIndex", `is required with a shard count (${s.shardCount} shards)`, undefined)
  }
  if (s.shardIndex !== undefined && s.shardCount !== undefined && s.shardIndex >= s.shardCount) {
    throw refusal("shardIndex", `must be below the shard count ${s.shardCount}`, s.shardIndex)
  }
  return s
}

/** The settings' explicit range as a {@link Config}; refuses (BAD_INPUT) when it is missing. */
export function requireRange(settings: Settings, rule: RangeRule = {}): Config {
  for (const key of ["startBlock", "endBlock"] as const) {
    if (settings[key] === undefined) throw refusal(key, "is required", undefined, rule.flags?.[key])
  }
  return settings as Config
}

/** Validates settings of a run over an explicit range (required even with `auto`). */
export function validateConfig(raw: RawConfig): Config {
  return requireRange(validateSettings(raw))
}

/**
 * The run's configuration: flags, `PARQUET_COMPACT_*` environment variables and a config file
 * (YAML or JSON, flat or a DAG node with a `config:` section) merged in that order of precedence
 * over defaults, then validated once by a zod schema. Nothing else in the program reads the
 * environment, except the Postgres and AWS clients for their own standard variables.
 */
import { parse as parseYaml } from "yaml"
import { z } from "zod"
import { CompactError } from "./errors.ts"

/** One setting: its camelCase key, and how it is spelled as a flag, in env and in files. */
interface Setting {
  readonly key: keyof RawConfig
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
  { key: "databaseUrl", kind: "string" },
  { key: "s3Endpoint", kind: "string" },
  { key: "s3Region", kind: "string" },
  { key: "s3ForcePathStyle", kind: "bool" },
  { key: "lockTimeout", kind: "int" },
  { key: "dryRun", kind: "bool" },
  { key: "json", kind: "bool" },
]

/** Settings before validation: strings from env and flags, anything from a file. */
export type RawConfig = Partial<
  Record<
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
    | "databaseUrl"
    | "s3Endpoint"
    | "s3Region"
    | "s3ForcePathStyle"
    | "lockTimeout"
    | "dryRun"
    | "json",
    unknown
  >
>

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())
/** The environment variable of a setting: `chainId` -> `PARQUET_COMPACT_CHAIN_ID`. */
export const envName = (key: string) => "PARQUET_COMPACT_" + snake(key).toUpperCase()

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/
const identifier = z.string().regex(IDENT, "must be a lower-case SQL identifier like hot_blocks")
const qualified = z.string().regex(
  /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/,
  "must be a lower-case table name, optionally schema-qualified, like public.hot_logs",
)
const block = z.union([z.bigint(), z.number().int(), z.string().regex(/^\d+$/, "must be a whole number")])
  .transform((v) => BigInt(v)).pipe(z.bigint().min(0n))
const count = (min: number, max: number) =>
  z.union([z.number().int(), z.string().regex(/^\d+$/, "must be a whole number").transform(Number)])
    .pipe(z.number().int().min(min).max(max))
const bool = z.union([
  z.boolean(),
  z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => /^(true|1|yes)$/.test(v)),
])

const schema = z.object({
  chainId: block,
  dataset: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, "must match [a-z][a-z0-9_]* like blocks or logs"),
  startBlock: block,
  endBlock: block,
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
  databaseUrl: z.string().optional(),
  s3Endpoint: z.string().url().optional(),
  s3Region: z.string().optional(),
  s3ForcePathStyle: bool.default(false),
  lockTimeout: count(0, 86_400).default(60), // seconds to wait for the manifest commit lock
  dryRun: bool.default(false),
  json: bool.default(false),
}).refine((c) => c.startBlock <= c.endBlock, { message: "must not be after end_block", path: ["startBlock"] })

/** The validated configuration of one run. */
export type Config = z.output<typeof schema>

/** Reads a config file's text: a flat object of snake_case settings, or a DAG node with `config:`. */
export function parseConfigFile(text: string, name: string): RawConfig {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (cause) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot parse config file "${name}": ${(cause as Error).message.split("\n")[0]}`,
      {
        cause,
      },
    )
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new CompactError("BAD_INPUT", `Cannot use config file "${name}": expected a mapping of settings`)
  }
  const node = doc as Record<string, unknown>
  const section = (typeof node.config === "object" && node.config !== null ? node.config : node) as Record<
    string,
    unknown
  >
  const known = new Map(SETTINGS.map((s) => [snake(s.key), s.key]))
  const raw: Record<string, unknown> = {}
  for (const [name_, value] of Object.entries(section)) {
    const key = known.get(name_)
    if (key) raw[key] = value
    else if (section !== node || !DAG_KEYS.has(name_)) {
      throw new CompactError(
        "BAD_INPUT",
        `Cannot use config file "${name}": unknown setting "${name_}"; see parquet_compact compact --help`,
      )
    }
  }
  if (section !== node) {
    const strategy = node.update_strategy
    if (strategy !== undefined && strategy !== "replace") {
      throw new CompactError(
        "BAD_INPUT",
        `Cannot use update_strategy "${
          String(strategy)
        }" in "${name}": parquet_compact only replaces partitions`,
      )
    }
    const inputs = node.input_datasets
    if (Array.isArray(inputs) && typeof inputs[0] === "string" && raw.sourceTable === undefined) {
      raw.sourceTable = inputs[0]
    }
  }
  return raw as RawConfig
}

/** Top-level keys of a DAG node that are not settings of the job itself. */
const DAG_KEYS = new Set([
  "name",
  "activation",
  "runtime",
  "operator",
  "execution_strategy",
  "config",
  "input_datasets",
  "output_datasets",
  "update_strategy",
  "timeout_seconds",
  "image",
])

/** The settings found in `PARQUET_COMPACT_*` variables (and DATABASE_URL, AWS_ENDPOINT_URL_S3). */
export function configFromEnv(env: Record<string, string | undefined>): RawConfig {
  const raw: Record<string, unknown> = {}
  for (const { key } of SETTINGS) {
    const value = env[envName(key)]
    if (value !== undefined && value !== "") raw[key] = value
  }
  raw.databaseUrl ??= env.DATABASE_URL || undefined
  raw.s3Endpoint ??= env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined
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

/** Validates merged settings into a {@link Config}; the first problem becomes one BAD_INPUT line. */
export function validateConfig(raw: RawConfig): Config {
  const withDefaults = {
    ...raw,
    sourceTable: raw.sourceTable ?? (raw.dataset ? `hot_${raw.dataset}` : undefined),
  }
  const result = schema.safeParse(withDefaults)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  const key = String(issue.path[0] ?? "config")
  const flag = "--" + snake(key).replaceAll("_", "-")
  const shown = key === "databaseUrl"
    ? ""
    : ` (got ${JSON.stringify(String((withDefaults as Record<string, unknown>)[key] ?? ""))})`
  const what = (withDefaults as Record<string, unknown>)[key] === undefined ? "is required" : issue.message
  throw new CompactError(
    "BAD_INPUT",
    `Cannot start: ${flag} ${what}${what === "is required" ? "" : shown}; set it with ${flag}, ${
      envName(key)
    } or the config file`,
  )
}

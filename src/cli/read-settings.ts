/**
 * Settings of the read-only commands (`verify`, `status`): the same flags, `PARQUET_COMPACT_*`
 * variables and config file as `compact`, of which these commands take only what they need, validated
 * once here. Settings meant for `compact` alone (start block, chunk size, …) are ignored.
 */
import { readFile } from "node:fs/promises"
import { z } from "zod"
import { configFromEnv, mergeLayers, parseConfigFile, type RawConfig } from "../config.ts"
import { openStore, parseDestination } from "../destination.ts"
import { CompactError } from "../errors.ts"
import type { ObjectStore } from "../store/store.ts"

/** Where a command writes: one line at a time to stdout (`out`) and stderr (`err`). */
export interface CommandIo {
  out(line: string): void
  err(line: string): void
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/
const identifier = z.string().regex(IDENT, "must be a lower-case SQL identifier like block_number")
const qualified = z.string().regex(
  /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/,
  "must be a lower-case table name, optionally schema-qualified, like public.hot_logs",
)
const block = z.union([z.bigint(), z.number().int(), z.string().regex(/^\d+$/, "must be a whole number")])
  .transform((v) => BigInt(v)).pipe(z.bigint().min(0n))
const bool = z.union([
  z.boolean(),
  z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => /^(true|1|yes)$/.test(v)),
])

const schema = z.object({
  chainId: block,
  dataset: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, "must match [a-z][a-z0-9_]* like blocks or logs")
    .optional(),
  dest: z.string().regex(
    /^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?|file:\/\/\/.+)$/,
    "must be s3://BUCKET/PREFIX or file:///DIR",
  ),
  sourceTable: qualified.optional(),
  blocksTable: qualified.default("hot_blocks"),
  blockColumn: identifier.default("block_number"),
  chainColumn: identifier.optional(),
  finalityThreshold: block.optional(),
  databaseUrl: z.string().optional(),
  s3Endpoint: z.string().url().optional(),
  s3Region: z.string().optional(),
  s3ForcePathStyle: bool.default(false),
  json: bool.default(false),
})

/** The validated settings of a read-only command. */
export type ReadSettings = z.output<typeof schema>

/** Flags of a read-only command as commander gives them (camelCase, strings and booleans). */
export type ReadFlags = { readonly config?: string | undefined } & RawConfig

/** Merges the config file, the environment and the flags (flags win) and validates what is needed. */
export async function readSettings(
  flags: ReadFlags,
  env: Record<string, string | undefined>,
  command: string,
): Promise<ReadSettings> {
  const { config: file, ...given } = flags
  const fromFile: RawConfig = file ? parseConfigFile(await readConfig(file), file) : {}
  const raw = mergeLayers(fromFile, configFromEnv(env), given) as Record<string, unknown>
  const result = schema.safeParse(raw)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  const key = String(issue.path[0] ?? "config")
  const snake = key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())
  const flag = "--" + snake.replaceAll("_", "-")
  const what = raw[key] === undefined ? "is required" : issue.message
  const shown = raw[key] === undefined || key === "databaseUrl"
    ? ""
    : ` (got ${JSON.stringify(String(raw[key]))})`
  throw new CompactError(
    "BAD_INPUT",
    `Cannot start ${command}: ${flag} ${what}${shown}; set it with ${flag}, PARQUET_COMPACT_${snake.toUpperCase()} ` +
      "or the config file",
  )
}

/** Opens the store of `--dest` and returns it with its key prefix. */
export async function openDestination(
  settings: ReadSettings,
): Promise<{ store: ObjectStore; prefix: string; close(): void }> {
  const destination = parseDestination(settings.dest)
  const store = await openStore(destination, settings)
  return { store, prefix: destination.prefix, close: () => (store as { close?: () => void }).close?.() }
}

async function readConfig(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8")
  } catch (cause) {
    throw new CompactError("BAD_INPUT", `Cannot read config file "${path}": ${(cause as Error).message}`, {
      cause,
    })
  }
}

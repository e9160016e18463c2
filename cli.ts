/**
 * The parquet_compact command line. Only this file touches argv, the process environment and
 * the exit code; everything it does is in src/.
 */
import { Command, CommanderError, Option } from "@commander-js/extra-typings"
import { readFile } from "node:fs/promises"
import { compact, formatSummary } from "./src/compact.ts"
import {
  type Config,
  configFromEnv,
  mergeLayers,
  parseConfigFile,
  type RawConfig,
  validateConfig,
} from "./src/config.ts"
import { openStore, parseDestination } from "./src/destination.ts"
import { CompactError, exitCodeOf } from "./src/errors.ts"
import { openDatabase } from "./src/pg/hot.ts"
import { VERSION } from "./src/version.ts"
import { addVerifyCommand } from "./src/cli/verify.ts"
import { addStatusCommand } from "./src/cli/status.ts"

const EXIT_HELP = `
Exit codes:
  0  done, or nothing to do
  1  failure worth retrying (network, server, conflict)
  2  bad input or config
  3  range not final yet
  4  refused for integrity (gap in hot data, verification mismatch, overlap)
  5  locked by another run`

function program(run: (config: Config) => Promise<number>, env: Record<string, string | undefined>, io: Io) {
  const root = new Command("parquet_compact")
    .configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, "")),
      writeErr: (text) => io.err(text.replace(/\n$/, "")),
    })
    .description("Compact finalized blockchain data from Postgres hot tables into Parquet in S3 cold storage")
    .version(VERSION, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXIT_HELP)
    .exitOverride()
  root
    .command("compact")
    .description("Compact one chain's dataset over an inclusive block range into Parquet and a manifest")
    .option("--config <file>", "YAML or JSON config file; may be the DAG node verbatim")
    .option("--chain-id <id>", "chain id (S3 layout, finality default, chain_id filter)")
    .option("--dataset <name>", "dataset name: blocks, logs, transactions, …")
    .option("--start-block <n>", "first block of the range (inclusive)")
    .option("--end-block <n>", "last block of the range (inclusive)")
    .option("--chunk-size <rows>", "rows per Parquet file (default 10000)")
    .option(
      "--partition-size <blocks>",
      "split the range into partitions aligned to this many blocks (default: one)",
    )
    .option("--delete-after-compact", "delete the compacted hot rows once cold storage is verified")
    .option("--dest <url>", "s3://BUCKET/PREFIX or file:///DIR")
    .option("--finality-threshold <blocks>", "blocks behind the tip that are final (default: per chain)")
    .option("--tip <n>", "chain tip to use instead of max(block) of the blocks table")
    .option("--source-table <table>", "hot table to read (default: first input dataset, else hot_{dataset})")
    .option("--blocks-table <table>", "hot blocks table for the tip and completeness (default hot_blocks)")
    .option("--block-column <name>", "block number column (default block_number)")
    .option(
      "--chain-column <name>",
      "column of multi-chain tables holding the chain id (default chain_id if present)",
    )
    .option("--order-by <columns>", "comma-separated row order (default: the primary key)")
    .option("--row-group-size <rows>", "rows per row group (default: min(chunk size, 100000))")
    .option("--s3-endpoint <url>", "S3 endpoint for non-AWS servers (or AWS_ENDPOINT_URL_S3)")
    .option("--s3-region <region>", "S3 region (or AWS_REGION)")
    .option("--s3-force-path-style", "path-style S3 URLs, for non-AWS servers")
    .option("--lock-timeout <seconds>", "how long to wait for the manifest commit lock (default 60)")
    .option("--dry-run", "check finality and completeness and print the plan; write nothing")
    .option("--json", "print one JSON summary on stdout")
    .addOption(
      new Option("--database-url <url>", "Postgres URL (default DATABASE_URL or PG* variables)").hideHelp(),
    )
    .addHelpText(
      "after",
      `\nEvery flag can also be set as PARQUET_COMPACT_<FLAG> (e.g. PARQUET_COMPACT_CHAIN_ID).${EXIT_HELP}`,
    )
    .action(async (options) => {
      const { config: file, ...flags } = options
      const fromFile: RawConfig = file ? parseConfigFile(await readConfigFile(file), file) : {}
      const config = validateConfig(mergeLayers(fromFile, configFromEnv(env), flags))
      exitCode = await run(config)
    })
  addVerifyCommand(root, env, io)
  addStatusCommand(root, env, io)
  let exitCode = 0
  return { root, exitCode: () => exitCode }
}

async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8")
  } catch (cause) {
    throw new CompactError("BAD_INPUT", `Cannot read config file "${path}": ${(cause as Error).message}`, {
      cause,
    })
  }
}

/** Where output goes: one line at a time to stdout (`out`) and stderr (`err`). */
export interface Io {
  out(line: string): void
  err(line: string): void
}

/** Runs a compaction with real Postgres and the configured store; returns the exit code. */
export async function runCompact(config: Config, io: Io): Promise<number> {
  const log = io.err
  const sql = openDatabase(config.databaseUrl)
  const destination = parseDestination(config.dest)
  const store = openStore(destination, config)
  try {
    const summary = await compact(config, {
      sql,
      databaseUrl: config.databaseUrl,
      store,
      prefix: destination.prefix,
      log,
    })
    if (config.json) io.out(JSON.stringify(summary))
    else log(formatSummary(summary))
    return 0
  } finally {
    await sql.end({ timeout: 5 })
    ;(store as { close?: () => void }).close?.()
  }
}

/** The entry point: parses argv and env, runs, and returns the exit code (never exits itself). */
export async function main(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Io = {
    out: (line) => process.stdout.write(line + "\n"),
    err: (line) => process.stderr.write(line + "\n"),
  },
): Promise<number> {
  const log = io.err
  const cli = program((config) => runCompact(config, io), env, io)
  try {
    await cli.root.parseAsync(argv, { from: "user" })
    return cli.exitCode()
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed the message; help and version are successes
      return error.exitCode === 0 ? 0 : 2
    }
    const code = exitCodeOf(error)
    const message = error instanceof Error ? error.message : String(error)
    if (error instanceof CompactError) log(`parquet_compact: ${message}`)
    else if (code === 1) log(`parquet_compact: Cannot finish the run: ${message}; it is worth retrying`)
    else {log(
        `parquet_compact: Cannot finish the run: ${message}; check the connection settings and permissions`,
      )}
    if (!(error instanceof CompactError) && error instanceof Error && env.PARQUET_COMPACT_DEBUG) {
      log(error.stack ?? "")
    }
    return code
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2), process.env))

/**
 * The parquet_compact command line. Only this file touches argv, the process environment and
 * the exit code; everything it does is in src/.
 */
import { Command, CommanderError, Option } from "@commander-js/extra-typings"
import { compact, formatSummary } from "./src/compact.ts"
import { type Config, requireRange } from "./src/config.ts"
import { openStore, parseDestination } from "./src/destination.ts"
import { CompactError } from "./src/errors.ts"
import { type Io, openSession, type Session } from "./src/cli/session.ts"
import { openDatabase } from "./src/pg/hot.ts"
import { crashPoint } from "./src/crashpoint.ts"
import { VERSION } from "./src/version.ts"

export type { Io } from "./src/cli/session.ts"

const EXIT_HELP = `
Exit codes:
  0  done, or nothing to do
  1  failure worth retrying (network, server, conflict)
  2  bad input or config
  3  range not final yet
  4  refused for integrity (gap in hot data, verification mismatch, overlap)
  5  locked by another run`

function program(session: Session) {
  const { io, logger } = session
  const root = new Command("parquet_compact")
    .configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, "")),
      // usage errors: plain text for people, one JSON line for log collectors
      writeErr: (text) =>
        session.format() === "json"
          ? logger.error(text.trim().replace(/^error: /, ""))
          : io.err(text.replace(/\n$/, "")),
    })
    .description("Compact finalized blockchain data from Postgres hot tables into Parquet in S3 cold storage")
    .version(VERSION, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXIT_HELP)
    .exitOverride()
  root
    .command("compact")
    .description("Compact one chain's dataset over an inclusive block range into Parquet and a manifest")
    .option("--config <file>", "YAML or JSON config file; may be the DAG file verbatim (one node or a list)")
    .option("--node <name>", "the DAG node to take from a config file that lists several")
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
    .option("--merge-late", "add late hot rows of a committed partition to it as new files")
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
    .option("--json", "print one JSON summary on stdout (and a JSON result when the run fails)")
    .option("--auto", "compact the ready partitions up to the final tip (reactive and cron activation)")
    .option(
      "--min-blocks <blocks>",
      "with --auto: do nothing until this many final, uncompacted blocks exist",
    )
    .option(
      "--timeout-seconds <seconds>",
      "start no new partition after this many seconds (DAG timeout_seconds)",
    )
    .addOption(
      new Option("--log-format <format>", "log lines on stderr (default: human on a terminal, else json)")
        .choices(["auto", "human", "json"] as const),
    )
    .addOption(
      new Option("--database-url <url>", "Postgres URL (default DATABASE_URL or PG* variables)").hideHelp(),
    )
    .addHelpText(
      "after",
      `\nEvery flag can also be set as PARQUET_COMPACT_<FLAG> (e.g. PARQUET_COMPACT_CHAIN_ID).${EXIT_HELP}`,
    )
    .action(async (options) => {
      const settings = await session.settings(options)
      // --auto without a range is the run loop's to plan; until it does, the range is required
      exitCode = await runCompact(requireRange(settings), session)
    })
  let exitCode = 0
  return { root, exitCode: () => exitCode }
}

/** Runs a compaction with real Postgres and the configured store; returns the exit code. */
export async function runCompact(
  config: Config,
  session: Pick<Session, "io" | "logger" | "env">,
): Promise<number> {
  const { io, logger, env } = session
  const sql = openDatabase(config.databaseUrl)
  const destination = parseDestination(config.dest)
  const store = openStore(destination, config)
  try {
    const summary = await compact(config, {
      sql,
      databaseUrl: config.databaseUrl,
      store,
      prefix: destination.prefix,
      log: logger,
      checkpoint: crashPoint(env.PARQUET_COMPACT_TEST_CRASH_AT),
    })
    if (config.json) io.out(JSON.stringify(summary))
    else {logger.info(formatSummary(summary), {
        rows: summary.rows,
        bytes: summary.bytes,
        seconds: summary.seconds,
      })}
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
    isTerminal: process.stderr.isTTY === true,
  },
): Promise<number> {
  const session = openSession(argv, env, io)
  const cli = program(session)
  try {
    await cli.root.parseAsync(argv, { from: "user" })
    return cli.exitCode()
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed the message; help and version are successes
      if (error.exitCode === 0) return 0
      return session.fail(new CompactError("BAD_INPUT", error.message.replace(/^error: /, "")), true)
    }
    return session.fail(error)
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2), process.env))

/**
 * The parquet_compact command line. Only this file touches argv, the process environment and
 * the exit code; everything it does is in src/.
 */
import { Command, CommanderError } from "@commander-js/extra-typings"
import { compact, formatSummary } from "./src/compact.ts"
import { type Config, requireRange } from "./src/config.ts"
import { openStore, parseDestination } from "./src/destination.ts"
import { CompactError } from "./src/errors.ts"
import { commanderOutput, datasetOptions, EXIT_HELP, usageMessage } from "./src/cli/options.ts"
import { type Io, openSession, type Session } from "./src/cli/session.ts"
import { openDatabase } from "./src/pg/hot.ts"
import { crashPoint } from "./src/crashpoint.ts"
import { VERSION } from "./src/version.ts"
import { addVerifyCommand } from "./src/cli/verify.ts"
import { addStatusCommand } from "./src/cli/status.ts"

export type { Io } from "./src/cli/session.ts"

function program(session: Session) {
  const root = new Command("parquet_compact")
    .configureOutput(commanderOutput(session))
    .description("Compact finalized blockchain data from Postgres hot tables into Parquet in S3 cold storage")
    .version(VERSION, "-V, --version")
    .addHelpText("after", EXIT_HELP)
    .exitOverride()
  datasetOptions(
    root
      .command("compact")
      .description("Compact one chain's dataset over an inclusive block range into Parquet and a manifest"),
  )
    .option("--start-block <n>", "first block of the range (inclusive)")
    .option("--end-block <n>", "last block of the range (inclusive)")
    .option("--chunk-size <rows>", "rows per Parquet file (default 10000)")
    .option(
      "--partition-size <blocks>",
      "split the range into partitions aligned to this many blocks (default: one)",
    )
    .option("--delete-after-compact", "delete the compacted hot rows once cold storage is verified")
    .option("--merge-late", "add late hot rows of a committed partition to it as new files")
    .option("--order-by <columns>", "comma-separated row order (default: the primary key)")
    .option("--row-group-size <rows>", "rows per row group (default: min(chunk size, 100000))")
    .option("--lock-timeout <seconds>", "how long to wait for the manifest commit lock (default 60)")
    .option("--dry-run", "check finality and completeness and print the plan; write nothing")
    .option("--auto", "compact the ready partitions up to the final tip (reactive and cron activation)")
    .option(
      "--min-blocks <blocks>",
      "with --auto: do nothing until this many final, uncompacted blocks exist",
    )
    .option(
      "--timeout-seconds <seconds>",
      "start no new partition after this many seconds (DAG timeout_seconds)",
    )
    .action(async (options) => {
      const settings = await session.settings(options)
      // --auto without a range is the run loop's to plan; until it does, the range is required
      exitCode = await runCompact(requireRange(settings), session)
    })
  addVerifyCommand(root, session.env, session.io)
  addStatusCommand(root, session.env, session.io)
  let exitCode = 0
  return { root, exitCode: () => exitCode }
}

/** Runs a compaction with real Postgres and the configured store; returns the exit code. */
export async function runCompact(
  config: Config,
  session: Pick<Session, "io" | "logger" | "env">,
): Promise<number> {
  const { io, logger } = session
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
      checkpoint: crashPoint(session.env.PARQUET_COMPACT_TEST_CRASH_AT),
    })
    const { rows, bytes, seconds } = summary
    if (config.json) io.out(JSON.stringify(summary))
    else logger.info(formatSummary(summary), { rows, bytes, seconds })
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
      // help and version are successes; a usage error is reported as one line like any failure
      if (error.exitCode === 0) return 0
      return session.fail(new CompactError("BAD_INPUT", usageMessage(error.message)))
    }
    return session.fail(error)
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2), process.env))

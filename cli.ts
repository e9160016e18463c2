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
import { runAuto } from "./src/cli/auto.ts"
import { addBackfillCommand } from "./src/cli/backfill.ts"
import { addPlanCommand } from "./src/cli/plan.ts"
import { addVerifyCommand } from "./src/cli/verify.ts"
import { addStatusCommand } from "./src/cli/status.ts"

export type { Io } from "./src/cli/session.ts"

function program(session: Session, signal?: AbortSignal) {
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
    .option(
      "--page-version <1|2>",
      "Parquet data page format: 1 reads everywhere (default), 2 only by choice",
    )
    .option("--uuid-as <uuid|binary>", "uuid columns as the UUID type (default) or plain 16-byte binary")
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
    .option("--timeout <seconds>", "the same as --timeout-seconds")
    .option("--concurrency <k>", "with --auto: partitions in flight (default 1)")
    .action(async ({ timeout, ...options }) => {
      const startedAt = Date.now()
      const settings = await session.settings({ timeoutSeconds: timeout, ...options })
      exitCode = settings.auto
        ? await runAuto(settings, session, signal, startedAt)
        : await runCompact(requireRange(settings), session, signal)
    })
  addPlanCommand(root, session)
  addBackfillCommand(root, session, signal, (code) => (exitCode = code))
  addVerifyCommand(root, session.env, session.io)
  addStatusCommand(root, session.env, session.io)
  let exitCode = 0
  return { root, exitCode: () => exitCode }
}

/** Runs a compaction with real Postgres and the configured store; returns the exit code. */
export async function runCompact(
  config: Config,
  session: Pick<Session, "io" | "logger" | "env">,
  signal?: AbortSignal,
): Promise<number> {
  const { io, logger } = session
  const sql = openDatabase(config.databaseUrl)
  const destination = parseDestination(config.dest)
  const store = await openStore(destination, config)
  try {
    const summary = await compact(config, {
      sql,
      databaseUrl: config.databaseUrl,
      store,
      prefix: destination.prefix,
      log: logger,
      checkpoint: crashPoint(session.env.PARQUET_COMPACT_TEST_CRASH_AT),
    }, signal)
    const { rows, bytes, seconds } = summary
    if (config.json) io.out(JSON.stringify(summary))
    else logger.info(formatSummary(summary), { rows, bytes, seconds })
    return 0
  } finally {
    await sql.end({ timeout: 5 })
    ;(store as { close?: () => void }).close?.()
  }
}

/**
 * The entry point: parses argv and env, runs, and returns the exit code (never exits itself).
 * `signal` is aborted with the signal's name (SIGTERM, SIGINT) to stop the run: no new partition
 * starts and the one in flight stops before its commit; the exit code is then 143 (SIGTERM) or 130.
 */
export async function main(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Io = {
    out: (line) => process.stdout.write(line + "\n"),
    err: (line) => process.stderr.write(line + "\n"),
    isTerminal: process.stderr.isTTY === true,
  },
  signal?: AbortSignal,
): Promise<number> {
  const session = openSession(argv, env, io)
  const cli = program(session, signal)
  const onSignal = () =>
    session.logger.warn(
      `Stopping: ${String(signal?.reason)} received; no new partition starts, the one in flight stops ` +
        "before its commit (or finishes if already committed); send it again to exit at once",
    )
  signal?.addEventListener("abort", onSignal, { once: true })
  // an interrupted run exits 143 whatever stopped it; SIGINT's own code is 130
  const interrupted = (code: number) => code === 143 && signal?.reason === "SIGINT" ? 130 : code
  try {
    await cli.root.parseAsync(argv, { from: "user" })
    return interrupted(cli.exitCode())
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version are successes; a usage error is reported as one line like any failure
      if (error.exitCode === 0) return 0
      return session.fail(new CompactError("BAD_INPUT", usageMessage(error.message)))
    }
    return interrupted(session.fail(error))
  } finally {
    signal?.removeEventListener("abort", onSignal)
  }
}

/** Exit codes for a signal that stops the run (128 + the signal's number). */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const

if (import.meta.main) {
  // first SIGTERM/SIGINT: stop cleanly (see main); a second one: exit at once, locks go with the sessions
  const stop = new AbortController()
  for (const name of ["SIGTERM", "SIGINT"] as const) {
    process.on(name, () => {
      if (!stop.signal.aborted) return stop.abort(name)
      process.stderr.write(`parquet_compact: ${name} received again; exiting at once\n`)
      process.exit(SIGNAL_EXIT[name])
    })
  }
  process.exit(await main(process.argv.slice(2), process.env, undefined, stop.signal))
}

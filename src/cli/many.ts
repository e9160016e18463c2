/**
 * What `plan`, `compact --auto` and `backfill` share in the CLI: opening Postgres (a pool big enough
 * for the partitions in flight) and the store, the progress display the terminal calls for, and
 * printing a run's report.
 */
import type { Settings } from "../config.ts"
import type { Deps } from "../dataset.ts"
import { openStore, parseDestination } from "../destination.ts"
import { crashPoint } from "../crashpoint.ts"
import { openDatabase } from "../pg/hot.ts"
import { createProgress, type Progress } from "../progress.ts"
import { formatReport, type RunReport } from "../report.ts"
import type { Session } from "./session.ts"

/**
 * Connections a run of `concurrency` partitions needs from the pool at most: per partition its lock
 * session and the manifest commit lock's (pooled only when the URL is unknown, i.e. PG* variables;
 * else they open their own, as the COPY streams do), plus two for short queries.
 */
export const poolSize = (concurrency: number): number => 2 * concurrency + 2

/** Opens Postgres and the store, runs `fn`, and closes both whatever happens. */
export async function withDeps<T>(
  settings: Settings,
  session: Pick<Session, "logger" | "env">,
  fn: (deps: Deps) => Promise<T>,
): Promise<T> {
  const sql = openDatabase(settings.databaseUrl, poolSize(settings.concurrency))
  const destination = parseDestination(settings.dest)
  const store = await openStore(destination, settings)
  try {
    return await fn({
      sql,
      databaseUrl: settings.databaseUrl,
      store,
      prefix: destination.prefix,
      log: session.logger,
      checkpoint: crashPoint(session.env.PARQUET_COMPACT_TEST_CRASH_AT),
    })
  } finally {
    await sql.end({ timeout: 5 })
    ;(store as { close?: () => void }).close?.()
  }
}

/** A bar on a terminal that shows human lines; one log line per partition otherwise. */
export function progressFor(session: Pick<Session, "io" | "logger" | "format">): (total: number) => Progress {
  return (total) =>
    createProgress({
      total,
      mode: session.io.isTerminal === true && session.format() === "human" ? "bar" : "lines",
      write: session.io.err,
      logger: session.logger,
    })
}

/**
 * Prints the report (one JSON object on stdout with --json, else a summary log line); returns its exit
 * code, which is 130 rather than 143 when SIGINT stopped the run.
 */
export function printReport(
  stopped: RunReport,
  settings: Pick<Settings, "json">,
  session: Session,
  signal: AbortSignal | undefined,
): number {
  const sigint = stopped.stopped_by === "signal" && signal?.reason === "SIGINT"
  const report = sigint ? { ...stopped, exit_code: 130 } : stopped
  if (settings.json) session.io.out(JSON.stringify(report))
  else {
    const fields = {
      rows: report.rows,
      bytes: report.bytes,
      seconds: report.seconds,
      exit_code: report.exit_code,
    }
    if (report.exit_code === 0 || report.stopped_by === "signal") {
      session.logger.info(formatReport(report), fields)
    } else session.logger.error(formatReport(report), fields)
  }
  return report.exit_code
}
